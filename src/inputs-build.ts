// The build inputs docker/build-push-action has, with its names and meaning: parsed and checked
// here (pure), each error one line naming the input and quoting a short part of the bad value.
import { quoted } from './clip.js';
import { InputError } from './input-error.js';
import { lines, splitList } from './inputs-lists.js';

/** Reads one input by name (core.getInput, or a test's table). */
export type GetInput = (name: string) => string;

/** What `--call` asks BuildKit for; `build` (the default) builds the image. */
const CALL_METHODS = ['build', 'check', 'outline', 'targets'] as const;

export interface BuildInputs {
  /** Also put the image into the local image store (`--load`). */
  load: boolean;
  /** `--output` entries, as given (exported after the leak guard and the test commands). */
  outputs: string[];
  pull: boolean;
  noCache: boolean;
  noCacheFilters: string[];
  /** `--build-context name=value`. */
  buildContexts: string[];
  /** `--ssh` entries: `default`, `id`, or `id=path[,path]`. */
  ssh: string[];
  network: string;
  /** `--add-host host=ip` (host:ip is accepted too and passed as given). */
  addHosts: string[];
  shmSize: string;
  ulimits: string[];
  allow: string[];
  cgroupParent: string;
  /** `--call`: '' for a normal build; otherwise check, outline or targets, with options (e.g. check,format=json). */
  call: string;
  /** Extra `--cache-from` / `--cache-to` entries, beside the action's own layer cache. */
  cacheFrom: string[];
  cacheTo: string[];
  /** Shell commands run (bash -e) after the build, on the loaded image, before anything is pushed. */
  testRun: string;
}

function flag(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new InputError(name, `expected true or false, got ${quoted(raw.trim())}`);
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ENTITLEMENTS = ['network.host', 'security.insecure', 'device'];
const ULIMIT_NAMES = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

function parseOutputs(raw: string): string[] {
  const out = lines(raw);
  for (const o of out)
    if (!/^type=[a-z]+(,|$)/.test(o) && !/^[^=,]+$/.test(o))
      throw new InputError('outputs', `expected type=<exporter>[,key=value...] or a local path, got ${quoted(o)}`);
  return out;
}

function parseBuildContexts(raw: string): string[] {
  const out = lines(raw);
  for (const c of out) {
    const eq = c.indexOf('=');
    if (eq <= 0 || eq === c.length - 1)
      throw new InputError('build-contexts', `expected name=<path, URL, docker-image://ref or target:stage>, got ${quoted(c)}`);
    const name = c.slice(0, eq);
    if (!/^[A-Za-z0-9][A-Za-z0-9_./:@-]*$/.test(name)) throw new InputError('build-contexts', `${quoted(name)} is not a context name`);
  }
  return out;
}

function parseSsh(raw: string): string[] {
  const out = lines(raw);
  for (const s of out) {
    const [id, paths] = s.includes('=') ? [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)] : [s, undefined];
    if (!NAME_RE.test(id)) throw new InputError('ssh', `expected default, an id, or id=path[,path], got ${quoted(s)}`);
    if (paths !== undefined && paths.split(',').some((p) => p.trim() === '')) throw new InputError('ssh', `empty path in ${quoted(s)}`);
  }
  return out;
}

function parseAddHosts(raw: string): string[] {
  const out = splitList(raw, { comments: true });
  for (const h of out)
    if (!/^[A-Za-z0-9_.-]+[=:][0-9A-Fa-f.:[\]]+$/.test(h) && !/^[A-Za-z0-9_.-]+[=:]host-gateway$/.test(h))
      throw new InputError('add-hosts', `expected host=ip (or host:ip), got ${quoted(h)}`);
  return out;
}

function parseShmSize(raw: string): string {
  const s = raw.trim();
  if (s !== '' && !/^\d+(\.\d+)?\s*[bkmg]?b?$/i.test(s)) throw new InputError('shm-size', `expected a size such as 2g or 512m, got ${quoted(s)}`);
  return s;
}

function parseUlimits(raw: string): string[] {
  const out = lines(raw);
  for (const u of out) {
    const m = /^([a-z]+)=(-?\d+)(:-?\d+)?$/.exec(u);
    if (!m) throw new InputError('ulimit', `expected type=soft[:hard] (e.g. nofile=1024:1024), got ${quoted(u)}`);
    if (!ULIMIT_NAMES.includes(m[1])) throw new InputError('ulimit', `unknown limit ${quoted(m[1])} (${ULIMIT_NAMES.join(', ')})`);
  }
  return out;
}

function parseAllow(raw: string): string[] {
  const out = splitList(raw, { comments: true });
  for (const a of out)
    if (!ENTITLEMENTS.some((e) => a === e || a.startsWith(`${e}=`)))
      throw new InputError('allow', `unknown entitlement ${quoted(a)} (${ENTITLEMENTS.join(', ')})`);
  return out;
}

function parseNetwork(raw: string): string {
  const n = raw.trim();
  if (n !== '' && !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(n)) throw new InputError('network', `expected default, host, none or a network name, got ${quoted(n)}`);
  return n;
}

function parseCall(raw: string): string {
  const c = raw.trim();
  if (c === '' || c.toLowerCase() === 'build') return '';
  const method = c.split(',')[0].toLowerCase();
  if (!(CALL_METHODS as readonly string[]).includes(method))
    throw new InputError('call', `expected one of ${CALL_METHODS.join(', ')} (options after a comma, e.g. check,format=json), got ${quoted(c)}`);
  return c;
}

/** `cache-from` / `cache-to`: `type=...` entries or a bare registry reference (build-push-action's shorthand). */
function parseCacheList(name: 'cache-from' | 'cache-to', raw: string): string[] {
  const out = lines(raw);
  for (const e of out) {
    if (/^type=[a-z0-9]+(,|$)/.test(e)) continue;
    if (name === 'cache-from' && /^[a-z0-9][a-z0-9._:/@-]*$/i.test(e) && !e.includes('=')) continue;
    throw new InputError(name, `expected type=<backend>[,key=value...]${name === 'cache-from' ? ' or an image reference' : ''}, got ${quoted(e)}`);
  }
  return out;
}

/** Reads and checks every build input; cross-input conflicts are refused here too. */
export function readBuildInputs(get: GetInput): BuildInputs {
  const b: BuildInputs = {
    load: flag('load', get('load')),
    outputs: parseOutputs(get('outputs')),
    pull: flag('pull', get('pull')),
    noCache: flag('no-cache', get('no-cache')),
    noCacheFilters: splitList(get('no-cache-filters'), { comments: true }),
    buildContexts: parseBuildContexts(get('build-contexts')),
    ssh: parseSsh(get('ssh')),
    network: parseNetwork(get('network')),
    addHosts: parseAddHosts(get('add-hosts')),
    shmSize: parseShmSize(get('shm-size')),
    ulimits: parseUlimits(get('ulimit')),
    allow: parseAllow(get('allow')),
    cgroupParent: get('cgroup-parent').trim(),
    call: parseCall(get('call')),
    cacheFrom: parseCacheList('cache-from', get('cache-from')),
    cacheTo: parseCacheList('cache-to', get('cache-to')),
    testRun: get('test-run').trim(),
  };
  for (const f of b.noCacheFilters) if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(f)) throw new InputError('no-cache-filters', `${quoted(f)} is not a stage name`);
  if (b.call) {
    const method = b.call.split(',')[0];
    if (b.testRun) throw new InputError('test-run', `call: ${method} evaluates the build and makes no image to test; remove one of the two`);
    if (b.load) throw new InputError('load', `call: ${method} evaluates the build and makes no image to load; remove one of the two`);
    if (b.outputs.length) throw new InputError('outputs', `call: ${method} evaluates the build and makes no image to export; remove one of the two`);
    if (b.cacheTo.length) throw new InputError('cache-to', `call: ${method} evaluates the build and exports no cache; remove one of the two`);
  }
  return b;
}
