// Cache mounts: the contents of a RUN --mount=type=cache survive a fresh builder through
// the Actions cache service, on the real Docker Engine and buildx, with the bundled dist/.
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, REGISTRY } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(15 * 60 * 1000);

type Result = Awaited<ReturnType<typeof runAction>>;

const MOUNT = '/cache/data';
const isMountKey = (k: string | undefined) => !!k && k.startsWith('obc1-mnt-');
const warnings = (r: Result) => [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'warning').map((a) => a.message);
const errors = (r: Result) => [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'error').map((a) => a.message);
const mountEntries = (cache: CacheServer) => cache.entries().filter((e) => isMountKey(e.key));
const mountCreates = (cache: CacheServer) => cache.log().filter((l) => l.kind === 'create' && isMountKey(l.key));

let n = 0;
const nextSha = () => (++n).toString(16).padStart(40, 'd');
const nonce = () => `n${randomBytes(6).toString('hex')}`;

describe('cache-mounts', () => {
  let cache: CacheServer;
  let ws: string;
  const repo = uniqueRepo('mounts');
  const first = nonce();

  /** One run on a fresh builder (as on a new runner: the prune also drops BuildKit's cache mounts). */
  async function run(o: { nonce: string; mounts?: boolean; extra?: string; inputs?: Record<string, string>; prune?: boolean }): Promise<Result> {
    if (o.prune !== false) pruneBuilder();
    const args = [`RUN_NONCE=${o.nonce}`, ...(o.extra ? [`EXTRA=${o.extra}`] : [])].join('\n');
    const inputs = { images: repo, push: 'false', 'build-args': args, ...(o.mounts === false ? {} : { 'cache-mounts': MOUNT }), ...(o.inputs ?? {}) };
    const r = await runAction({ workspace: ws, cache, inputs, sha: nextSha() });
    if (r.main.exitCode !== 0 || r.post?.exitCode !== 0) throw new Error(`run failed:\n${r.log.slice(-4000)}`);
    return r;
  }

  beforeAll(async () => {
    cache = await startCache();
    ws = await workspaceFrom('mounts');
  });
  afterAll(() => cache.close());
  afterEach(() => cache.clearFaults());

  test('run 1: the mount starts empty; post saves one entry for it', async () => {
    const r = await run({ nonce: first });
    expect(r.log).toContain('marker-absent');
    expect(r.log).not.toMatch(/found-n/);
    expect(r.main.groups).toContain('Restore cache mounts (1)');
    expect(r.post?.groups).toContain('Save cache mounts');
    expect(r.log).toMatch(/cache mount \/cache\/data: no entry for this scope yet/);
    expect(r.log).toMatch(/cache mount \/cache\/data: saved obc1-mnt-\S+-main-d+1-[0-9a-f]{16} \(1 file, /);
    expect(mountEntries(cache)).toHaveLength(1);
    expect(mountCreates(cache)).toHaveLength(1);
    expect(warnings(r)).toEqual([]);
  });

  test('without cache-mounts a fresh builder does not find the marker (the check below can fail)', async () => {
    const r = await run({ nonce: nonce(), mounts: false });
    expect(r.log).toContain('marker-absent');
    expect(r.log).not.toMatch(/found-n/);
    expect(r.log).not.toContain('cache mount');
  });

  test('run 2 on a fresh builder: restored, the step finds run 1’s marker, and the unchanged mount saves nothing', async () => {
    cache.resetLog();
    const r = await run({ nonce: nonce() });
    expect(r.log).toContain(`found-${first}`);
    expect(r.log).not.toContain('marker-absent');
    expect(r.log).toMatch(/cache mount \/cache\/data: restored obc1-mnt-\S+ \(1 file, /);
    expect(r.log).toMatch(/cache mount \/cache\/data: not saved: unchanged since obc1-mnt-/);
    expect(mountCreates(cache)).toEqual([]);
    expect(cache.log().filter((l) => (l.kind === 'upload' || l.kind === 'finalize') && isMountKey(l.key))).toEqual([]);
    expect(mountEntries(cache)).toHaveLength(1);
    expect(warnings(r)).toEqual([]);
  });

  test('a changed mount saves exactly one new entry, which the next run restores', async () => {
    cache.resetLog();
    const r = await run({ nonce: nonce(), extra: 'more' });
    expect(r.log).toContain(`found-${first}`);
    expect(r.log).toMatch(/cache mount \/cache\/data: saved obc1-mnt-\S+ \(2 files, /);
    expect(mountCreates(cache)).toHaveLength(1);
    expect(mountEntries(cache)).toHaveLength(2);
    const saved = /cache mount \/cache\/data: saved (obc1-mnt-\S+)/.exec(r.log)![1];
    const next = await run({ nonce: nonce() });
    expect(next.log).toContain(`cache mount /cache/data: restored ${saved} (2 files, `);
    expect(next.log).toContain(`found-${first}`);
  });

  test('a builder that still holds the mount (a persistent runner) keeps it: the entry is not injected over it', async () => {
    await run({ nonce: nonce(), extra: 'local-only' });
    cache.resetLog();
    const r = await run({ nonce: nonce(), prune: false });
    expect(r.log).toContain('cache mount /cache/data: the builder already holds this mount; kept it');
    expect(r.log).toContain(`found-${first}`);
    // The builder's content (with the local-only change) is what the cache holds now: nothing to save.
    expect(r.log).toMatch(/cache mount \/cache\/data: not saved: unchanged since /);
    expect(mountCreates(cache)).toEqual([]);
  });

  test('cache-service faults and a failing helper build are warnings; the build succeeds', async () => {
    cache.setFaults([{ op: 'create', type: 'error', status: 500, key: 'obc1-mnt-' }]);
    const faulty = await run({ nonce: nonce(), extra: 'fault' });
    expect(faulty.log).toContain(`found-${first}`);
    expect(warnings(faulty).join('\n')).toMatch(/failed to save|cache mount \/cache\/data: not saved/i);
    expect(errors(faulty)).toEqual([]);
    cache.clearFaults();

    const missing = `${REGISTRY}/e2e/no-such-helper-image:latest`;
    const broken = await run({ nonce: nonce(), inputs: { 'cache-mounts-image': missing } });
    const w = warnings(broken).join('\n');
    expect(w).toContain('cache mount /cache/data: could not fill the mount from obc1-mnt-');
    expect(w).toContain('cache mount /cache/data: not saved: the mount could not be exported');
    expect(broken.log).toContain('marker-absent');
    expect(errors(broken)).toEqual([]);
  });

  test('a bad cache-mounts line fails the step with one line naming the input and the line', async () => {
    const r = await runAction({ workspace: ws, cache, inputs: { images: repo, push: 'false', 'cache-mounts': `${MOUNT}\nid=x,bogus=1` } });
    expect(r.main.exitCode).not.toBe(0);
    const errs = errors(r);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^cache-mounts: unknown option "bogus" in "id=x,bogus=1" \(/);
    expect(errs[0]).not.toContain('\n');
    expect(r.main.log).not.toMatch(/^\s+at /m);
  });
});
