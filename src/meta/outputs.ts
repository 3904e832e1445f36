// The metadata outputs as docker/metadata-action sets them: tags, tag-names, labels and annotations
// joined with the sep-* separators, version and json; and the same values as DOCKER_METADATA_OUTPUT_*
// environment variables for later steps unless DOCKER_METADATA_SET_OUTPUT_ENV is false. Pure.
import type { MetaResult } from './index.js';
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';

interface Separators {
  tags: string;
  labels: string;
  annotations: string;
}

/** Output name -> value, in metadata-action's order. */
export function metaOutputs(meta: MetaResult, sep: Separators): Record<string, string> {
  return {
    version: meta.version,
    tags: meta.tags.join(sep.tags),
    'tag-names': meta.tagNames.join(sep.tags),
    labels: meta.labels.join(sep.labels),
    annotations: meta.annotations.join(sep.annotations),
    json: JSON.stringify(meta.json),
  };
}

/** `tag-names` -> `DOCKER_METADATA_OUTPUT_TAG_NAMES`. */
export function outputEnvName(output: string): string {
  return `DOCKER_METADATA_OUTPUT_${output.replace(/\W/g, '_').toUpperCase()}`;
}

/**
 * DOCKER_METADATA_SET_OUTPUT_ENV: unset or empty means true (metadata-action's default); otherwise
 * true/false (also 1/0, t/f, as metadata-action's boolean parser reads them). Anything else is an error.
 */
export function outputEnvEnabled(raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return true;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 't'].includes(v)) return true;
  if (['false', '0', 'f'].includes(v)) return false;
  throw new InputError('DOCKER_METADATA_SET_OUTPUT_ENV', `expected true or false, got ${quoted(raw)}`);
}

/** The environment variables to export: one per metadata output, or none when turned off. */
export function outputEnv(outputs: Record<string, string>, setOutputEnv: string | undefined): Record<string, string> {
  if (!outputEnvEnabled(setOutputEnv)) return {};
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [outputEnvName(k), v]));
}
