// The cache-mounts inputs, parsed and validated (pure): which BuildKit cache mounts to keep in the
// Actions cache, the helper image, and the size bound.
import { quoted } from '../clip.js';
import * as path from 'node:path';
import { InputError } from '../input-error.js';

export const MOUNTS_INPUT = 'cache-mounts';
export const MOUNTS_IMAGE_INPUT = 'cache-mounts-image';
export const MOUNTS_MAX_SIZE_INPUT = 'cache-mounts-max-size';
export const DEFAULT_MOUNTS_IMAGE = 'busybox:latest';
export const DEFAULT_MOUNTS_MAX_BYTES = 2 * 1024 ** 3;
/** Each mount costs two helper builds and a cache entry per change: keep the list short. */
export const MAX_MOUNTS = 10;

export interface CacheMount {
  /** BuildKit's cache mount id: `id=` as given, else the target path cleaned as BuildKit does. */
  id: string;
  /** The target path, when given (only for the log: BuildKit shares a cache mount by id alone). */
  target?: string;
}

/** Go's path.Clean, which BuildKit applies to a target path to make the default id. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

// Characters that cannot go into the generated Dockerfile's --mount flag unquoted (it is split on
// commas, and $ would be expanded), or that are surely a mistake.
const BAD_ID_RE = /[\s,"'`$\\]/;
const KNOWN_IGNORED = new Set(['sharing', 'uid', 'gid', 'mode', 'required', 'readonly', 'ro', 'rw', 'readwrite']);
const TARGET_KEYS = new Set(['target', 'dst', 'destination']);
const FORMAT = 'use a target path such as /root/.cache/pip, or id=<mount id>[,target=<path>]';

/**
 * `cache-mounts`: one mount per line, either a target path (BuildKit's default mount id is the
 * target path) or comma-separated key=value options: `id`, `target` (or `dst`, `destination`),
 * `type=cache`; `sharing`, `uid`, `gid` and `mode` are accepted and ignored, so that a Dockerfile's
 * own `--mount=type=cache,...` options can be pasted. Blank lines and lines starting with # are
 * skipped.
 */
export function parseCacheMounts(raw: string, name = MOUNTS_INPUT): CacheMount[] {
  const out: CacheMount[] = [];
  const seen = new Map<string, string>();
  for (const line of raw.split(/\r?\n/).map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const m = parseLine(line, name);
    const first = seen.get(m.id);
    if (first !== undefined) throw new InputError(name, `mount id ${quoted(m.id)} is given twice (${quoted(first)} and ${quoted(line)})`);
    seen.set(m.id, line);
    out.push(m);
  }
  if (out.length > MAX_MOUNTS) throw new InputError(name, `${out.length} mounts given; at most ${MAX_MOUNTS} are kept`);
  return out;
}

function parseLine(line: string, name: string): CacheMount {
  const bad = (why: string) => new InputError(name, `${why} in ${quoted(line)} (${FORMAT})`);
  if (!line.includes('=')) {
    if (line.includes(',')) throw bad('a target path cannot contain ","');
    return mount(undefined, line, bad);
  }
  let id: string | undefined;
  let target: string | undefined;
  for (const field of line.split(',').map((f) => f.trim())) {
    if (field === '') throw bad('empty option');
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1).trim();
    if (key === 'id') {
      if (id !== undefined) throw bad('"id" given twice');
      if (value === '') throw bad('empty id');
      id = value;
    } else if (TARGET_KEYS.has(key)) {
      if (target !== undefined) throw bad('"target" given twice');
      if (value === '') throw bad('empty target');
      target = value;
    } else if (key === 'type') {
      if (value !== 'cache') throw bad(`type=${value}: only type=cache mounts can be kept`);
    } else if (key === 'from' || key === 'source' || key === 'src') {
      throw bad(`${quoted(key)} is not supported: a cache mount based on another stage cannot be restored`);
    } else if (!KNOWN_IGNORED.has(key)) {
      throw bad(`unknown option ${quoted(key)}`);
    }
  }
  return mount(id, target, bad);
}

function mount(id: string | undefined, target: string | undefined, bad: (why: string) => InputError): CacheMount {
  if (id === undefined && target === undefined) throw bad('no id and no target');
  const resolved = id ?? cleanPath(target!);
  if (BAD_ID_RE.test(resolved) || /[\x00-\x1f\x7f]/.test(resolved)) {
    throw bad(`the mount id ${quoted(resolved)} contains a space, quote, comma, "$" or backslash`);
  }
  if (id === undefined && (resolved === '/' || resolved === '.')) throw bad(`${quoted(String(target))} is not a valid cache mount target`);
  if (resolved.length > 255) throw bad('the mount id is longer than 255 characters');
  return target === undefined ? { id: resolved } : { id: resolved, target };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `cache-mounts-max-size`: bytes, or a number with k, m, g or t: KiB, MiB, GiB, TiB (2g, 2G, 2GB and 2GiB are the same). */
export function parseSize(raw: string, name = MOUNTS_MAX_SIZE_INPUT, dflt = DEFAULT_MOUNTS_MAX_BYTES): number {
  const v = raw.trim();
  if (v === '') return dflt;
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(v);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]) : NaN;
  if (!m || !(bytes > 0) || !Number.isSafeInteger(bytes)) throw new InputError(name, `expected a size such as 500m or 2g, got ${quoted(v)}`);
  return bytes;
}

/** `cache-mounts-image`: one image reference. */
export function parseImage(raw: string, name = MOUNTS_IMAGE_INPUT): string {
  const v = raw.trim();
  if (v === '') return DEFAULT_MOUNTS_IMAGE;
  if (/\s/.test(v) || !/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(v)) throw new InputError(name, `${quoted(v)} is not an image reference`);
  return v;
}
