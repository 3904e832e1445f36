// The local cache service (scripts/lib/cache-server.mjs) driven by the real, unmodified
// @actions/cache client (cache service v2: Twirp JSON + Azure-blob-style signed URLs).
//
// Client retry sleeps (3 s+ in the Twirp client, 5 s in the download helper, 4 s / 12 s in the Azure
// SDK) are compressed by `withFastClientRetries`, which records the delay the client asked for and
// runs the timer at once. Nothing in this file sleeps to wait for something.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startCacheServer, type CacheServer, type LogRecord } from '../../scripts/lib/cache-server.mjs';

type CacheModule = typeof import('@actions/cache');

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const MiB = 1024 * 1024;

let root: string;
let workspace: string;
let storeDir: string;
let server: CacheServer;
let cache: CacheModule;
let savedEnv: NodeJS.ProcessEnv;
let output: string[] = [];
const realStdoutWrite = process.stdout.write;
let testSeq = 0;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-server-test-'));
  workspace = path.join(root, 'ws');
  storeDir = path.join(root, 'store');
  fs.mkdirSync(workspace);
  fs.mkdirSync(path.join(root, 'runner-temp'));
  server = await startCacheServer({ dir: storeDir });
  savedEnv = { ...process.env };
  delete process.env.ACTIONS_CACHE_URL;
  delete process.env.ACTIONS_CACHE_MODE;
  Object.assign(process.env, server.env(), { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: path.join(root, 'runner-temp') });
  cache = await import('@actions/cache');
});

afterAll(async () => {
  await server?.close();
  process.env = savedEnv;
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

// @actions/core writes ::debug::/::warning:: commands and info lines to stdout; keep them for assertions.
beforeEach(() => {
  server.reset();
  output = [];
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    output.push(String(chunk));
    const cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
});
afterEach(() => {
  process.stdout.write = realStdoutWrite;
});

const printed = (re: RegExp) => output.some((line) => re.test(line));
const uniq = (name: string) => `${name}-${++testSeq}-${crypto.randomBytes(3).toString('hex')}`;

/** Creates <workspace>/<name> with the given files (relative path -> content); returns its absolute path. */
function makeDir(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(workspace, name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

/** relative path -> sha256 of content (or "link:<target>" / "dir"), for byte-exact comparisons. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      const rel = path.relative(dir, p);
      if (ent.isSymbolicLink()) out.set(rel, `link:${fs.readlinkSync(p)}`);
      else if (ent.isDirectory()) {
        out.set(rel, 'dir');
        walk(p);
      } else out.set(rel, crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

const randomFiles = (count: number, size: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}.bin`, crypto.randomBytes(size)]));

const summary = (records: LogRecord[]) => records.map((r) => `${r.kind}${r.part ? `/${r.part}` : ''}:${r.status}`);

/**
 * Runs fn with the client's retry sleeps compressed: setTimeout calls made from @actions/cache's
 * Twirp client, its download retry helper or the Azure storage retry policy are recorded and fired
 * immediately. (The server imports its timers from node:timers, so it is not affected.)
 */
async function withFastClientRetries<T>(fn: () => Promise<T>): Promise<{ result: T; delays: Array<{ ms: number; from: string }> }> {
  const original = globalThis.setTimeout;
  const delays: Array<{ ms: number; from: string }> = [];
  const patched = (handler: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (typeof ms === 'number' && ms > 0) {
      const stack = new Error().stack ?? '';
      const from = /cacheTwirpClient/.test(stack) ? 'twirp' : /requestUtils/.test(stack) ? 'download' : /storage-common/.test(stack) ? 'azure' : undefined;
      if (from) {
        delays.push({ ms, from });
        ms = 0;
      }
    }
    return original(handler, ms, ...args);
  };
  globalThis.setTimeout = Object.assign(patched, original) as unknown as typeof setTimeout;
  try {
    return { result: await fn(), delays };
  } finally {
    globalThis.setTimeout = original;
  }
}

describe('local cache service + real @actions/cache', () => {
  it('env() selects cache service v2 at this server', () => {
    const env = server.env();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(env).toEqual({
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: server.url,
      ACTIONS_RUNTIME_TOKEN: expect.any(String),
      GITHUB_SERVER_URL: 'https://github.com',
    });
    expect(cache.isFeatureAvailable()).toBe(true);
  });

  it("evict deletes the chosen entries (and only those), as the service's eviction does; a restore then misses", async () => {
    const keep = uniq('keep');
    const gone = uniq('gone');
    const dirKeep = makeDir('evict-keep', { 'a.txt': 'kept\n' });
    const dirGone = makeDir('evict-gone', { 'b.txt': 'evicted\n' });
    expect(await cache.saveCache([dirKeep], keep)).toBeGreaterThan(0);
    expect(await cache.saveCache([dirGone], gone)).toBeGreaterThan(0);
    const before = server.stats().totalBytes;
    const size = server.entries().find((e) => e.key === gone)!.size;
    expect(server.evict([gone, uniq('never-saved')]).map((e) => e.key)).toEqual([gone]);
    expect(server.entries().map((e) => e.key)).not.toContain(gone);
    expect(server.entries().map((e) => e.key)).toContain(keep);
    expect(server.stats().totalBytes).toBe(before - size);
    expect(await cache.restoreCache([dirGone], gone, [], { lookupOnly: true })).toBeUndefined();
    expect(await cache.restoreCache([dirKeep], keep, [], { lookupOnly: true })).toBe(keep);
    expect(() => server.evict('x' as unknown as string[])).toThrow(TypeError);
  });

  it('saves a directory and restores it byte-exact; the log and stats count the bytes', async () => {
    const key = uniq('roundtrip');
    const dir = makeDir('roundtrip', {
      'a.txt': 'hello\n',
      empty: '',
      'nested/deeper/b.bin': crypto.randomBytes(300 * 1024),
      'nested/c.json': JSON.stringify({ x: 1 }),
    });
    fs.symlinkSync('a.txt', path.join(dir, 'link-to-a'));
    const before = snapshot(dir);
    const statsBefore = server.stats();

    const id = await cache.saveCache([dir], key);
    expect(id).toBeGreaterThan(0);
    const entry = server.entries().find((e) => e.key === key);
    expect(entry).toMatchObject({ id, key, size: expect.any(Number) });
    const size = entry!.size;
    const saveLog = server.log();
    expect(summary(saveLog)).toEqual(['create:200', 'upload/blob:201', 'finalize:200']);
    expect(saveLog.every((r) => r.key === key && r.version === entry!.version)).toBe(true);
    expect(saveLog[1].bytesIn).toBe(size);
    const statsAfterSave = server.stats();
    expect(statsAfterSave).toMatchObject({
      entries: statsBefore.entries + 1,
      totalBytes: statsBefore.totalBytes + size,
      uploads: 1,
      bytesUploaded: size,
      bytesDownloaded: 0,
    });

    fs.rmSync(dir, { recursive: true });
    server.resetLog();
    await expect(cache.restoreCache([dir], key)).resolves.toBe(key);
    expect(snapshot(dir)).toEqual(before);
    const restoreLog = server.log();
    expect(summary(restoreLog)).toEqual(['lookup:200', 'download:200']);
    expect(restoreLog[0]).toMatchObject({ key, matchedKey: key, restoreKeys: [] });
    expect(restoreLog[1]).toMatchObject({ key, bytesOut: size, completed: true });
    expect(server.stats()).toMatchObject({ downloads: 1, bytesDownloaded: size, uploads: 0, bytesUploaded: 0 });

    // A key nobody saved: ok:false from the lookup, no download.
    server.resetLog();
    await expect(cache.restoreCache([dir], uniq('never-saved'))).resolves.toBeUndefined();
    expect(summary(server.log())).toEqual(['lookup:200']);
    expect(server.log()[0].matchedKey).toBeUndefined();
  });

  it('restore keys: exact match first, then the newest entry with the prefix, key by key in order', async () => {
    const p = uniq('prefix');
    const dir = path.join(workspace, 'prefix');
    const save = async (key: string, content: string) => {
      makeDir('prefix', { 'which.txt': content });
      expect(await cache.saveCache([dir], key)).toBeGreaterThan(0);
    };
    const restore = async (primary: string, restoreKeys?: string[]) => {
      fs.rmSync(dir, { recursive: true, force: true });
      const hit = await cache.restoreCache([dir], primary, restoreKeys);
      return { hit, content: fs.existsSync(dir) ? fs.readFileSync(path.join(dir, 'which.txt'), 'utf8') : undefined };
    };
    // Saved in this order, so "-b-..." is older than "-a-..." although it sorts after it.
    await save(`${p}-b-older`, 'older');
    await save(`${p}-a-newer`, 'newer');

    await expect(restore(`${p}-miss`, [`${p}-`])).resolves.toEqual({ hit: `${p}-a-newer`, content: 'newer' });
    // An exact match beats a newer prefix match.
    await expect(restore(`${p}-b-older`, [`${p}-`])).resolves.toEqual({ hit: `${p}-b-older`, content: 'older' });
    // Keys are tried in order; the first one with any match wins.
    await expect(restore(`${p}-miss`, [`${p}-nothing-`, `${p}-b`, `${p}-`])).resolves.toEqual({ hit: `${p}-b-older`, content: 'older' });
    // The primary key itself is prefix-matched too.
    await expect(restore(`${p}-`)).resolves.toEqual({ hit: `${p}-a-newer`, content: 'newer' });
    await expect(restore(`${p}-miss`, [`${p}-c`])).resolves.toEqual({ hit: undefined, content: undefined });
  });

  it('an entry saved with another version (other paths) does not match the same key or prefix', async () => {
    const key = uniq('version');
    const dirA = makeDir('version-a', { 'x.txt': 'A' });
    const dirB = path.join(workspace, 'version-b');
    expect(await cache.saveCache([dirA], key)).toBeGreaterThan(0);
    const savedVersion = server.entries().find((e) => e.key === key)!.version;

    server.resetLog();
    await expect(cache.restoreCache([dirB], key)).resolves.toBeUndefined();
    await expect(cache.restoreCache([dirB], uniq('other'), [key.slice(0, -3)])).resolves.toBeUndefined();
    const lookups = server.log();
    expect(summary(lookups)).toEqual(['lookup:200', 'lookup:200']);
    expect(lookups.every((r) => r.version !== savedVersion && r.matchedKey === undefined)).toBe(true);
    // Same paths = same version: found.
    await expect(cache.restoreCache([dirA], key, [], { lookupOnly: true })).resolves.toBe(key);
  });

  it('saving an existing key again is refused with 409 and nothing is uploaded; the entry stays as it was', async () => {
    const key = uniq('immutable');
    const dir = makeDir('immutable', { 'v.txt': 'first' });
    const id = await cache.saveCache([dir], key);
    expect(id).toBeGreaterThan(0);
    const entry = server.entries().find((e) => e.key === key);

    server.resetLog();
    makeDir('immutable', { 'v.txt': 'second' });
    await expect(cache.saveCache([dir], key)).resolves.toBe(-1);
    expect(summary(server.log())).toEqual(['create:409']);
    expect(server.stats()).toMatchObject({ uploads: 0, bytesUploaded: 0 });
    expect(printed(/Failed to save: Unable to reserve cache with key/)).toBe(true);
    expect(server.entries().filter((e) => e.key === key)).toEqual([entry]);

    fs.rmSync(dir, { recursive: true });
    await expect(cache.restoreCache([dir], key)).resolves.toBe(key);
    expect(fs.readFileSync(path.join(dir, 'v.txt'), 'utf8')).toBe('first');
  });

  it('an archive over 128 MiB is uploaded as blocks + block list and restores intact', async () => {
    const key = uniq('large');
    const dir = path.join(workspace, 'large');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'random.bin');
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < 35; i++) {
      const chunk = crypto.randomBytes(4 * MiB); // incompressible: the archive stays ~140 MiB
      hash.update(chunk);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    const digest = hash.digest('hex');

    try {
      expect(await cache.saveCache([dir], key)).toBeGreaterThan(0);
      const size = server.entries().find((e) => e.key === key)!.size;
      expect(size).toBeGreaterThan(128 * MiB);
      const uploads = server.log().filter((r) => r.kind === 'upload');
      // @actions/cache: single shot up to 128 MiB, else 64 MiB blocks (concurrency 8), then the list.
      expect(uploads.map((r) => r.part).sort()).toEqual(['block', 'block', 'block', 'blocklist']);
      const blocks = uploads.filter((r) => r.part === 'block').map((r) => r.bytesIn);
      expect(blocks.sort((a, b) => b - a)).toEqual([64 * MiB, 64 * MiB, size - 128 * MiB]);
      expect(uploads.every((r) => r.status === 201)).toBe(true);
      expect(server.stats().bytesUploaded).toBe(size);

      fs.rmSync(dir, { recursive: true });
      server.resetLog();
      await expect(cache.restoreCache([dir], key)).resolves.toBe(key);
      const restored = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      expect(restored).toBe(digest);
      expect(server.stats().bytesDownloaded).toBe(size);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('Put Block List: the blob is the listed blocks in order (one listed twice, one left out); ranges cross block boundaries', async () => {
    const key = uniq('blocklist');
    const twirp = (method: string, body: object) =>
      fetch(`${server.url}twirp/github.actions.results.api.v1.CacheService/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<Record<string, string>>);
    const { signed_upload_url: url } = await twirp('CreateCacheEntry', { key, version: 'v1' });
    const blocks = { a: Buffer.from('AAAA'), b: Buffer.from('bbbbbb'), c: Buffer.from('C'), unused: Buffer.from('zz') };
    const id = (name: string) => Buffer.from(name.padEnd(8, '-')).toString('base64');
    for (const [name, bytes] of Object.entries(blocks)) {
      const r = await fetch(`${url}&comp=block&blockid=${encodeURIComponent(id(name))}`, { method: 'PUT', body: bytes });
      expect(r.status).toBe(201);
    }
    const list = ['b', 'a', 'c', 'a'].map((n) => `<Latest>${id(n)}</Latest>`).join('');
    const committed = await fetch(`${url}&comp=blocklist`, { method: 'PUT', body: `<?xml version="1.0" encoding="utf-8"?><BlockList>${list}</BlockList>` });
    expect(committed.status).toBe(201);
    const whole = 'bbbbbbAAAACAAAA';
    expect((await twirp('FinalizeCacheEntryUpload', { key, version: 'v1', size_bytes: String(whole.length) })).ok).toBe(true);
    expect(server.entries().find((e) => e.key === key)?.size).toBe(whole.length);

    const { signed_download_url: download } = await twirp('GetCacheEntryDownloadURL', { key, version: 'v1', restore_keys: [] });
    expect(await (await fetch(download)).text()).toBe(whole);
    for (const [range, want] of [
      ['bytes=4-11', whole.slice(4, 12)],
      ['bytes=10-', whole.slice(10)],
      ['bytes=-5', whole.slice(-5)],
      ['bytes=6-6', 'A'],
    ]) {
      const r = await fetch(download, { headers: { range } });
      expect([range, r.status, await r.text()]).toEqual([range, 206, want]);
    }
    // Evicted: the blob's parts go with it.
    server.evict([key]);
    expect((await fetch(download)).status).toBe(404);
  });
});

describe('fault injection (how @actions/cache reacts)', () => {
  let seededKey: string;
  let seededDir: string;
  let seeded: Map<string, string>;

  beforeAll(async () => {
    // 8 x 256 KiB random files: a ~2 MiB archive, big enough for a cut or a flip to land mid-archive.
    seededKey = uniq('seeded');
    seededDir = makeDir('seeded', randomFiles(8, 256 * 1024));
    seeded = snapshot(seededDir);
    const prev = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      expect(await cache.saveCache([seededDir], seededKey)).toBeGreaterThan(0);
    } finally {
      process.stdout.write = prev;
    }
  });
  const restoreSeeded = async () => {
    fs.rmSync(seededDir, { recursive: true, force: true });
    return cache.restoreCache([seededDir], seededKey);
  };

  it('create 500 (permanent): 5 attempts with 3 s / 4.5-6.75 s / 6.75-10.1 s / 10.1-15.2 s backoff, then saveCache returns -1', async () => {
    server.setFaults([{ op: 'create', type: 'error', status: 500 }]);
    const dir = makeDir('create-500', { 'a.txt': 'a' });
    const { result, delays } = await withFastClientRetries(() => cache.saveCache([dir], uniq('create-500')));
    expect(result).toBe(-1);
    expect(summary(server.log())).toEqual(Array(5).fill('create:500'));
    expect(server.log().every((r) => r.fault === 'error')).toBe(true);
    expect(delays.map((d) => d.from)).toEqual(['twirp', 'twirp', 'twirp', 'twirp']);
    const ms = delays.map((d) => d.ms);
    expect(ms[0]).toBe(3000);
    expect(ms[1]).toBeGreaterThanOrEqual(4500);
    expect(ms[1]).toBeLessThan(6750);
    expect(ms[2]).toBeGreaterThanOrEqual(6750);
    expect(ms[2]).toBeLessThan(10125);
    expect(ms[3]).toBeGreaterThanOrEqual(10125);
    expect(ms[3]).toBeLessThan(15188);
    expect(printed(/Failed to save: Unable to reserve cache/)).toBe(true);
    expect(server.stats()).toMatchObject({ uploads: 0, faultsInjected: 5 });
  });

  it('create 503 once (times: 1): the client retries after 3 s and the save succeeds', async () => {
    server.setFaults([{ op: 'create', type: 'error', status: 503, times: 1 }]);
    const dir = makeDir('create-503', { 'a.txt': 'a' });
    const { result, delays } = await withFastClientRetries(() => cache.saveCache([dir], uniq('create-503')));
    expect(result).toBeGreaterThan(0);
    expect(summary(server.log())).toEqual(['create:503', 'create:200', 'upload/blob:201', 'finalize:200']);
    expect(delays).toEqual([{ ms: 3000, from: 'twirp' }]);
    expect(server.faults()).toEqual([]);
  });

  it('create 501 (a 5xx the client does not retry): one attempt, saveCache returns -1', async () => {
    server.setFaults([{ op: 'create', type: 'error', status: 501 }]);
    const dir = makeDir('create-501', { 'a.txt': 'a' });
    const { result, delays } = await withFastClientRetries(() => cache.saveCache([dir], uniq('create-501')));
    expect(result).toBe(-1);
    expect(summary(server.log())).toEqual(['create:501']);
    expect(delays).toEqual([]);
  });

  it('lookup 500 (permanent): 5 attempts with backoff, then restoreCache returns undefined', async () => {
    server.setFaults([{ op: 'lookup', type: 'error', status: 500 }]);
    const { result, delays } = await withFastClientRetries(restoreSeeded);
    expect(result).toBeUndefined();
    expect(summary(server.log())).toEqual(Array(5).fill('lookup:500'));
    expect(delays).toHaveLength(4);
    expect(fs.existsSync(seededDir)).toBe(false);
    expect(printed(/Failed to restore: Failed to GetCacheEntryDownloadURL: Failed to make request after 5 attempts/)).toBe(true);
  });

  it('lookup 429 with Retry-After: no retry, restoreCache returns undefined and warns with the reset time', async () => {
    server.setFaults([{ op: 'lookup', type: 'rate-limit', retryAfter: 42 }]);
    const { result, delays } = await withFastClientRetries(restoreSeeded);
    expect(result).toBeUndefined();
    expect(summary(server.log())).toEqual(['lookup:429']);
    expect(delays).toEqual([]);
    expect(printed(/::warning::You've hit a rate limit, your rate limit will reset in 42 seconds/)).toBe(true);
  });

  it('lookup connection reset: NetworkError, no retry, restoreCache returns undefined', async () => {
    server.setFaults([{ op: 'lookup', type: 'reset' }]);
    const { result, delays } = await withFastClientRetries(restoreSeeded);
    expect(result).toBeUndefined();
    expect(server.log()).toEqual([expect.objectContaining({ kind: 'lookup', status: 0, completed: false, fault: 'reset' })]);
    expect(delays).toEqual([]);
    expect(printed(/Unable to make request: ECONNRESET/)).toBe(true);
  });

  it('faults filter by key substring and expire after `times`', async () => {
    server.setFaults([{ op: 'lookup', type: 'error', status: 501, key: 'flaky', times: 2 }]);
    const other = uniq('other');
    await expect(cache.restoreCache([seededDir], other)).resolves.toBeUndefined(); // plain miss
    expect(server.faults()).toEqual([expect.objectContaining({ times: 2, hits: 0 })]);
    const flaky = `${seededKey}-flaky`;
    // The fault matches the primary key; the restore key would otherwise hit the seeded entry.
    await expect(cache.restoreCache([seededDir], flaky, [seededKey], { lookupOnly: true })).resolves.toBeUndefined();
    await expect(cache.restoreCache([seededDir], flaky, [seededKey], { lookupOnly: true })).resolves.toBeUndefined();
    await expect(cache.restoreCache([seededDir], flaky, [seededKey], { lookupOnly: true })).resolves.toBe(seededKey);
    expect(summary(server.log())).toEqual(['lookup:200', 'lookup:501', 'lookup:501', 'lookup:200']);
    expect(server.faults()).toEqual([]);
  });

  it('truncated download (full Content-Length, connection closed early): undefined, nothing extracted', async () => {
    server.setFaults([{ op: 'download', type: 'truncate' }]);
    await expect(restoreSeeded()).resolves.toBeUndefined();
    const dl = server.log().find((r) => r.kind === 'download')!;
    expect(dl).toMatchObject({ status: 200, completed: false, fault: 'truncate' });
    expect(dl.bytesOut).toBe(Math.floor(server.entries().find((e) => e.key === seededKey)!.size / 2));
    expect(printed(/::warning::Failed to restore: aborted/)).toBe(true);
    expect(fs.existsSync(seededDir)).toBe(false);
  });

  it('truncated download without Content-Length (clean end): undefined, but tar has already extracted part of the tree', async () => {
    server.setFaults([{ op: 'download', type: 'truncate', hideLength: true }]);
    await expect(restoreSeeded()).resolves.toBeUndefined();
    expect(printed(/Failed to restore: "\/usr\/bin\/tar" failed with error/)).toBe(true);
    const got = snapshot(seededDir);
    expect(got.size).toBeGreaterThan(0); // partial restore left behind
    expect(got).not.toEqual(seeded);
  });

  it('corrupted download (bytes flipped): zstd checksum fails, undefined, but corrupted files were already extracted', async () => {
    server.setFaults([{ op: 'download', type: 'corrupt', bytes: 16 }]);
    await expect(restoreSeeded()).resolves.toBeUndefined();
    expect(server.log().find((r) => r.kind === 'download')).toMatchObject({ status: 200, completed: true, fault: 'corrupt' });
    expect(printed(/Restored data doesn't match checksum|Decoding error/)).toBe(true);
    const got = snapshot(seededDir);
    const corrupted = [...got].filter(([rel, sha]) => seeded.has(rel) && seeded.get(rel) !== sha && sha !== 'dir');
    expect(corrupted.length).toBeGreaterThan(0);
  });

  it('download 500: not retried; download 503: 2 attempts, each followed by a 5 s sleep; both undefined', async () => {
    server.setFaults([{ op: 'download', type: 'error', status: 500, times: 1 }]);
    const r500 = await withFastClientRetries(restoreSeeded);
    expect(r500.result).toBeUndefined();
    expect(summary(server.log())).toEqual(['lookup:200', 'download:500']);
    expect(r500.delays).toEqual([]);

    server.resetLog();
    server.setFaults([{ op: 'download', type: 'error', status: 503 }]);
    const r503 = await withFastClientRetries(restoreSeeded);
    expect(r503.result).toBeUndefined();
    expect(summary(server.log())).toEqual(['lookup:200', 'download:503', 'download:503']);
    expect(r503.delays).toEqual([
      { ms: 5000, from: 'download' },
      { ms: 5000, from: 'download' },
    ]);
  });

  it('download 429: the client writes the error body as the archive, tar fails, undefined', async () => {
    server.setFaults([{ op: 'download', type: 'rate-limit' }]);
    await expect(restoreSeeded()).resolves.toBeUndefined();
    expect(summary(server.log())).toEqual(['lookup:200', 'download:429']);
    expect(printed(/Failed to restore: "\/usr\/bin\/tar" failed/)).toBe(true);
  });

  it('upload 500: the Azure SDK tries 4 times (0 s, 4 s, 12 s apart), saveCache returns -1, nothing becomes visible', async () => {
    server.setFaults([{ op: 'upload', type: 'error', status: 500 }]);
    const key = uniq('upload-500');
    const dir = makeDir('upload-500', { 'a.txt': 'a' });
    const { result, delays } = await withFastClientRetries(() => cache.saveCache([dir], key));
    expect(result).toBe(-1);
    expect(summary(server.log())).toEqual(['create:200', ...Array(4).fill('upload/blob:500')]);
    expect(delays).toEqual([
      { ms: 4000, from: 'azure' },
      { ms: 12000, from: 'azure' },
    ]);
    server.clearFaults();
    await expect(cache.restoreCache([dir], key, [], { lookupOnly: true })).resolves.toBeUndefined();
    expect(server.entries().some((e) => e.key === key)).toBe(false);
  });

  it('finalize failing: the uploaded entry never becomes visible; the key stays reserved until the reservation lapses, then a save succeeds', async () => {
    server.setFaults([{ op: 'finalize', type: 'error', status: 501 }]);
    const key = uniq('finalize');
    const dir = makeDir('finalize', { 'a.txt': 'a' });
    const pendingBefore = server.stats().pendingUploads;
    await expect(cache.saveCache([dir], key)).resolves.toBe(-1);
    expect(summary(server.log())).toEqual(['create:200', 'upload/blob:201', 'finalize:501']);
    expect(server.stats().bytesUploaded).toBeGreaterThan(0);
    expect(server.stats().pendingUploads).toBe(pendingBefore + 1);
    server.clearFaults();
    await expect(cache.restoreCache([dir], key, [], { lookupOnly: true })).resolves.toBeUndefined();
    // The unfinished reservation blocks the key, as another job's upload in progress would.
    server.resetLog();
    await expect(cache.saveCache([dir], key)).resolves.toBe(-1);
    expect(summary(server.log())).toEqual(['create:409']);
    server.lapseReservations();
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0);
    expect(server.stats().pendingUploads).toBe(pendingBefore);
    await expect(cache.restoreCache([dir], key, [], { lookupOnly: true })).resolves.toBe(key);
  });

  it('slow: the answer is delayed but succeeds; close() does not wait for a pending delay', async () => {
    server.setFaults([{ op: 'lookup', type: 'slow', delayMs: 300, times: 1 }]);
    await expect(restoreSeeded()).resolves.toBe(seededKey);
    const lookup = server.log().find((r) => r.kind === 'lookup')!;
    expect(lookup).toMatchObject({ status: 200, fault: 'slow' });
    expect(lookup.durationMs).toBeGreaterThanOrEqual(295);
    expect(snapshot(seededDir)).toEqual(seeded);

    const other = await startCacheServer({ dir: path.join(root, 'slow-store') });
    other.setFaults([{ op: 'lookup', type: 'slow', delayMs: 10 * 60_000 }]);
    const pending = fetch(`${other.url}twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify({ key: 'k', version: 'v' }),
    }).then(
      (res) => `answered ${res.status}`,
      () => 'failed',
    );
    while (!other.log().some((r) => r.fault === 'slow')) await new Promise((r) => setImmediate(r));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(pending).resolves.toBe('failed');
  });

  describe('hang: the request is accepted and never answered, until the client goes away', () => {
    /** A raw request that records what came back, and can be given up. */
    const rawRequest = (url: string, method: string, body?: Buffer) => {
      const got = { status: 0, bytes: 0, ended: false, failed: false };
      const ac = new AbortController();
      const done = fetch(url, { method, body, signal: ac.signal, headers: { 'content-type': 'application/json', authorization: 'Bearer t' } })
        .then(async (res) => {
          got.status = res.status;
          for await (const chunk of res.body!) got.bytes += (chunk as Uint8Array).length;
          got.ended = true;
        })
        .catch(() => {
          got.failed = true;
        });
      return { got, abort: () => ac.abort(), done };
    };
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setImmediate(r));
    };
    /** A round trip through the server: everything it would have sent before it has been sent. */
    const roundTrip = async () => (await fetch(`${server.url}_control/stats`)).json();
    const twirp = (method: string) => `${server.url}twirp/github.actions.results.api.v1.CacheService/${method}`;

    it.each([
      ['lookup', 'GetCacheEntryDownloadURL'],
      ['create', 'CreateCacheEntry'],
      ['finalize', 'FinalizeCacheEntryUpload'],
    ])('%s: no answer; the record stays open until the client gives up', async (op, method) => {
      server.setFaults([{ op: op as 'lookup', type: 'hang' }]);
      const r = rawRequest(twirp(method), 'POST', Buffer.from(JSON.stringify({ key: 'k', version: 'v' })));
      await until(() => server.log().some((l) => l.fault === 'hang'));
      await roundTrip();
      expect(r.got).toEqual({ status: 0, bytes: 0, ended: false, failed: false });
      expect(server.stats().openRequests).toBe(1);
      r.abort();
      await r.done;
      await until(() => server.stats().openRequests === 0);
      expect(server.log()).toEqual([
        expect.objectContaining({ kind: op, status: 0, completed: false, fault: 'hang', error: 'hung (injected) before answering' }),
      ]);
    });

    /** The seeded entry's signed download URL, as a lookup gives it. */
    const downloadUrl = async () => {
      const res = await fetch(twirp('GetCacheEntryDownloadURL'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
        body: JSON.stringify({ key: seededKey, version: server.entries().find((e) => e.key === seededKey)!.version }),
      });
      return ((await res.json()) as { signed_download_url: string }).signed_download_url;
    };

    it('download: no answer at all, or the headers and `bytes` bytes and then nothing', async () => {
      const url = await downloadUrl();
      server.resetLog();
      server.setFaults([{ op: 'download', type: 'hang', times: 1 }]);
      const silent = rawRequest(url, 'GET');
      await until(() => server.log().some((l) => l.fault === 'hang'));
      await roundTrip();
      expect(silent.got).toEqual({ status: 0, bytes: 0, ended: false, failed: false });
      silent.abort();
      await silent.done;

      server.resetLog();
      server.setFaults([{ op: 'download', type: 'hang', bytes: 1000, times: 1 }]);
      const stalled = rawRequest(url, 'GET');
      await until(() => stalled.got.bytes === 1000);
      await roundTrip();
      expect(stalled.got).toEqual({ status: 200, bytes: 1000, ended: false, failed: false });
      stalled.abort();
      await stalled.done;
      // The server notes why the request ended once it sees the client go, which may come after the
      // request stopped counting as open (on a loaded machine): wait for that note too.
      await until(() => server.stats().openRequests === 0 && server.log().every((l) => l.error !== undefined));
      const size = server.entries().find((e) => e.key === seededKey)!.size;
      expect(server.log()).toEqual([
        expect.objectContaining({
          kind: 'download',
          status: 200,
          bytesOut: 1000,
          completed: false,
          fault: 'hang',
          error: `hung (injected) after 1000 of ${size} body bytes`,
        }),
      ]);
    });

    it('upload: reads the whole body, or exactly `bytes` of it and stops reading, and never answers', async () => {
      // A stalled upload reads nothing more, so the server notices the client going away only when
      // it closes: each case gets a server of its own.
      for (const bytes of [undefined, 70_000]) {
        const other = await startCacheServer({ dir: path.join(root, `hang-upload-${bytes ?? 0}`) });
        try {
          const res = await fetch(`${other.url}twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
            body: JSON.stringify({ key: uniq('hang-upload'), version: 'v1' }),
          });
          const { signed_upload_url: url } = (await res.json()) as { signed_upload_url: string };
          other.setFaults([{ op: 'upload', type: 'hang', ...(bytes ? { bytes } : {}) }]);
          const r = rawRequest(url, 'PUT', crypto.randomBytes(4 * MiB));
          await until(() => other.log().some((l) => l.fault === 'hang' && l.error !== undefined));
          await fetch(`${other.url}_control/stats`);
          expect(r.got).toEqual({ status: 0, bytes: 0, ended: false, failed: false });
          expect(other.log()).toEqual([
            expect.objectContaining({ kind: 'create', status: 200 }),
            expect.objectContaining({ kind: 'upload', part: 'blob', status: 0, bytesIn: bytes ?? 4 * MiB, completed: false, fault: 'hang' }),
          ]);
          expect(other.stats()).toMatchObject({ uploads: 0, bytesUploaded: 0, openRequests: 1 });
          if (bytes === undefined) {
            r.abort();
            await until(() => other.stats().openRequests === 0);
          } else await other.close();
          await r.done;
          expect(r.got.failed).toBe(true);
        } finally {
          await other.close();
        }
      }
    });

    it('@actions/cache itself never gives up on a hung lookup; close() ends it', async () => {
      const other = await startCacheServer({ dir: path.join(root, 'hang-store') });
      const env = process.env.ACTIONS_RESULTS_URL;
      process.env.ACTIONS_RESULTS_URL = other.url;
      try {
        other.setFaults([{ op: 'lookup', type: 'hang' }]);
        let settled = false;
        const pending = cache.restoreCache([seededDir], seededKey).finally(() => (settled = true));
        await until(() => other.log().some((l) => l.fault === 'hang'));
        await fetch(`${other.url}_control/stats`);
        expect(settled).toBe(false);
        expect(other.stats().openRequests).toBe(1);
        await other.close();
        await expect(pending).resolves.toBeUndefined();
      } finally {
        process.env.ACTIONS_RESULTS_URL = env;
        await other.close();
      }
    });
  });

  it('rejects malformed faults', () => {
    expect(() => server.setFaults([{ op: 'lookup', type: 'truncate' }])).toThrow(/only applies to op 'download'/);
    expect(() => server.setFaults([{ op: 'nope', type: 'error' } as never])).toThrow(/fault.op/);
    expect(() => server.setFaults([{ op: 'create', type: 'error', times: 0 }])).toThrow(/times/);
    expect(() => server.setFaults([{ op: 'lookup', type: 'hang', bytes: 10 }])).toThrow(/only applies to ops 'download' and 'upload'/);
    expect(server.faults()).toEqual([]);
  });
});

describe('CLI process: shared store directory and the HTTP control endpoint', () => {
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
    Object.assign(process.env, server.env());
  });

  it('serves entries saved by another process, is driven over HTTP, and its entries are seen here', async () => {
    const key = uniq('shared');
    const dir = makeDir('shared', { 's.txt': 'shared content' });
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0);
    const size = server.entries().find((e) => e.key === key)!.size;

    child = spawn(process.execPath, [path.join(repoRoot, 'scripts/cache-server.mjs'), '--dir', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      proc.stdout.on('data', (d) => {
        buf += d;
        const m = /^cache service listening on (http:\/\/\S+\/)$/m.exec(buf);
        if (m) resolve(m[1]);
      });
      proc.once('exit', (code) => reject(new Error(`cache-server exited with ${code}: ${stderr}`)));
    });
    expect(url).not.toBe(server.url);
    const control = async (method: string, what: string, body?: unknown) => {
      const res = await fetch(`${url}_control/${what}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    process.env.ACTIONS_RESULTS_URL = url;
    fs.rmSync(dir, { recursive: true });
    await expect(cache.restoreCache([dir], key)).resolves.toBe(key);
    expect(fs.readFileSync(path.join(dir, 's.txt'), 'utf8')).toBe('shared content');

    const set = await control('POST', 'faults', [{ op: 'lookup', type: 'rate-limit', retryAfter: 3, times: 1 }]);
    expect(set).toEqual({ status: 200, body: [expect.objectContaining({ op: 'lookup', type: 'rate-limit', times: 1, hits: 0 })] });
    await expect(cache.restoreCache([dir], key)).resolves.toBeUndefined();
    await expect(cache.restoreCache([dir], key)).resolves.toBe(key);

    const log = (await control('GET', 'log')).body as LogRecord[];
    expect(summary(log)).toEqual(['lookup:200', 'download:200', 'lookup:429', 'lookup:200', 'download:200']);
    expect(log[2]).toMatchObject({ key, fault: 'rate-limit' });
    const stats = (await control('GET', 'stats')).body;
    expect(stats).toMatchObject({ entries: server.stats().entries, downloads: 2, bytesDownloaded: 2 * size, faultsInjected: 1 });
    expect((await control('GET', 'faults')).body).toEqual([]);

    // A save through the CLI process is visible to this process (same index on disk).
    const key2 = uniq('shared-from-cli');
    expect(await cache.saveCache([dir], key2)).toBeGreaterThan(0);
    expect(server.entries().map((e) => e.key)).toContain(key2);

    expect((await control('POST', 'faults', [{ op: 'lookup', type: 'truncate' }])).status).toBe(400);
    expect((await control('POST', 'reset')).status).toBe(200);
    expect((await control('GET', 'log')).body).toEqual([]);
  }, 60_000);
});
