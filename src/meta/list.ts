// Splitting of list inputs, the way metadata-action reads them: the whole input is read as CSV
// (quotes honoured, `#` comments only on lines of their own, blank lines skipped); each record is
// one entry. `text` is the record's fields joined back with commas (what metadata-action keeps);
// `source` is the record as written, which the attribute parsers re-read so quoting works once.
import { parse } from 'csv-parse/sync';
import { InputError, oneLine } from '../input-error.js';
import { quoted } from '../clip.js';

interface ListEntry {
  /** The entry as metadata-action sees it: fields joined with `,`, trimmed. */
  text: string;
  /** The entry as written (quotes kept), trimmed. */
  source: string;
}

interface RawRecord {
  record: string[];
  raw: string;
}

/** Leading lines the CSV reader skipped (comments and empty lines) but still reports in `raw`. */
const SKIPPED_LINES = /^(?:(?:#[^\n]*)?\n)*/;

export function listEntries(input: string, inputName: string): ListEntry[] {
  const text = input.trim();
  if (text === '') {
    return [];
  }
  let records: RawRecord[];
  try {
    records = parse(text, {
      raw: true,
      columns: false,
      relax_quotes: true,
      comment: '#',
      comment_no_infix: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as RawRecord[];
  } catch (err) {
    const message = oneLine((err as Error).message);
    const lineNo = Number(/at line (\d+)/.exec(message)?.[1]);
    const line = Number.isInteger(lineNo) ? text.split(/\r?\n/)[lineNo - 1] : undefined;
    throw new InputError(inputName, line === undefined ? message : `${message} in ${quoted(line.trim())}`);
  }
  const entries: ListEntry[] = [];
  for (const { record, raw } of records) {
    const joined = record.join(',').trim();
    if (joined === '') {
      continue;
    }
    entries.push({ text: joined, source: raw.replace(SKIPPED_LINES, '').trim() });
  }
  return entries;
}
