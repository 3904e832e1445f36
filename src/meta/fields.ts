// The `key=value,key=value` attribute lines of the images, tags and flavor inputs.
import { parse } from 'csv-parse/sync';
import { InputError, oneLine } from '../input-error.js';
import { quoted } from '../clip.js';

export interface Field {
  /** Lowercased, trimmed key; undefined for a bare value (no `=`). */
  key?: string;
  /** Trimmed value (the whole field when bare). */
  value: string;
}

/** Reads one entry as CSV and splits each field at its first `=`. */
export function parseFields(source: string, inputName: string): Field[] {
  let rows: string[][];
  try {
    rows = parse(source, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    throw new InputError(inputName, `${oneLine((err as Error).message)} in ${quoted(source)}`);
  }
  const fields: Field[] = [];
  for (const raw of rows[0] ?? []) {
    const at = raw.indexOf('=');
    if (at <= 0) {
      // no `=`, or a leading `=`: metadata-action keeps the whole field as a bare value
      fields.push({ value: raw.trim() });
    } else {
      fields.push({ key: raw.slice(0, at).trim().toLowerCase(), value: raw.slice(at + 1).trim() });
    }
  }
  return fields;
}
