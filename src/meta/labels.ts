// OCI labels and annotations: the generated org.opencontainers.image.* set, then the user's
// `key=value` lines (rendered as global expressions) overriding by key, sorted by key.
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import { listEntries } from './list.js';
import { checkTemplate } from './placeholders.js';
import type { RunFacts } from './run.js';
import type { Renderer } from './scope.js';

/** Reads a labels/annotations input into its lines, checking each is KEY=VALUE and its expressions. */
export function parseLabelLines(input: string, inputName: string): string[] {
  return listEntries(input, inputName).map(({ text }) => {
    if (text.indexOf('=') <= 0) {
      throw new InputError(inputName, `expected KEY=VALUE, got ${quoted(text)}`);
    }
    const problem = checkTemplate(text, 'global');
    if (problem) {
      throw new InputError(inputName, `${problem} in ${quoted(text)}`);
    }
    return text;
  });
}

export function ociDefaults(run: RunFacts, version: string): string[] {
  const repo: Record<string, any> = run.payload.repository ?? {};
  const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
  return [
    `org.opencontainers.image.title=${text(repo.name)}`,
    `org.opencontainers.image.description=${text(repo.description)}`,
    `org.opencontainers.image.url=${text(repo.html_url)}`,
    `org.opencontainers.image.source=${text(repo.html_url)}`,
    `org.opencontainers.image.version=${version}`,
    `org.opencontainers.image.created=${run.created.toISOString()}`,
    `org.opencontainers.image.revision=${run.sha}`,
    `org.opencontainers.image.licenses=${text(repo.license?.spdx_id)}`,
  ];
}

/**
 * Merges `defaults` and the user's `extra` lines (rendered): a line without `=` is dropped, a later
 * key replaces an earlier one; the result is sorted by key (String#localeCompare, as metadata-action).
 */
export function mergeKeyValues(defaults: string[], extra: string[], renderGlobal: Renderer, inputName: string): string[] {
  const merged = new Map<string, string>();
  const add = (line: string): void => {
    const at = line.indexOf('=');
    if (at >= 0) {
      merged.set(line.slice(0, at), line.slice(at + 1));
    }
  };
  defaults.forEach(add);
  for (const line of extra) {
    try {
      add(renderGlobal(line));
    } catch (err) {
      throw new InputError(inputName, `${(err as Error).message.split('\n')[0]} in ${quoted(line)}`);
    }
  }
  return [...merged.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => `${k}=${v}`);
}

/** `key=value` lines to an object, splitting at the first `=`. */
export function toRecord(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf('=');
    if (at >= 0) {
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}
