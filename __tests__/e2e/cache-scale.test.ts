// The layer cache at scale, end to end: a 200-layer build (8 stages of 24 layers and a final stage
// of 8; small layers, so it stays quick) restores fully on a pruned builder, and after the cache
// service evicted one of its blob entries (as its hourly eviction or a full quota does) a build that
// needs those blobs (a change at the top of the final stage makes every COPY --from run again, on
// the stages' cached layers) is still green, reuses what is left and uploads only what is missing,
// after which the cache serves the whole build again. What was uploaded is read from the cache
// service's log and the index entries it stores.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runAction, startCache, tempDir, uniqueRepo, pruneBuilder, buildGroup } from './harness.js';
import type { CacheServer } from './harness.js';
import { changeFinalFile, writeScaleProject } from '../../scripts/lib/scale-project.mjs';

jest.setTimeout(10 * 60 * 1000);

// 8 x 24 + 8 = 200 layers (and a small first step in the final stage, the one the test changes);
// the 16 large ones (a 600 KiB file copied in each stage and out of it into the final stage) go
// into blob entries, the small ones travel inside the index entry.
const PROJECT = { stages: 8, steps: 24, bigBytes: 600 * 1024, bigPerStage: 1, finalBig: true, finalFile: true };
const LAYERS = 201;

type Result = Awaited<ReturnType<typeof runAction>>;
interface IndexMeta {
  key: string;
  entries: Record<string, string>;
  packs: Record<string, string[]>;
  image: { config: { layers: { blob: string; parent?: number }[] } };
}

let n = 0;
const nextSha = () => (++n).toString(16).padStart(40, 'e');
const isIndexKey = (k: string) => k.startsWith('obc1-idx-');
const created = (cache: CacheServer) =>
  cache
    .log()
    .filter((l) => l.kind === 'finalize' && l.status === 200)
    .map((l) => l.key!);
const warnings = (r: Result) => [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'warning').map((a) => a.message);

/** Build step ids of the last build attempt, and which of them were CACHED. */
function steps(log: string): { all: Map<string, string>; cached: Set<string> } {
  const group = buildGroup(log);
  const retry = group.lastIndexOf('building again without them');
  const last = retry >= 0 ? group.slice(retry) : group;
  const all = new Map<string, string>();
  for (const m of last.matchAll(/^#(\d+) \[([^\]]*\d+\/\d+)\] ((?:COPY|RUN) .*)$/gm)) all.set(m[1], m[3]);
  const cached = new Set([...all.keys()].filter((id) => new RegExp(`^#${id} CACHED$`, 'm').test(last)));
  return { all, cached };
}

/** The newest index entry the cache service holds, unpacked: its meta.json. */
async function newestIndex(cache: CacheServer): Promise<IndexMeta> {
  const stored = JSON.parse(readFileSync(path.join(cache.dir, 'index.json'), 'utf8')).entries as { key: string; blob: string; createdAtMs: number }[];
  const idx = stored.filter((e) => isIndexKey(e.key)).sort((a, b) => b.createdAtMs - a.createdAtMs)[0];
  const x = await tempDir('idx');
  execFileSync('tar', ['-I', 'zstd -d --long=30', '-xf', path.join(cache.dir, 'blobs', idx.blob), '-C', x], { stdio: 'ignore' });
  const found = execFileSync('find', [x, '-name', 'meta.json']).toString().trim().split('\n')[0];
  const meta = JSON.parse(await fs.readFile(found, 'utf8')) as IndexMeta;
  await fs.rm(x, { recursive: true, force: true });
  return meta;
}

/** Digests an entry holds, by the index that names it. */
const digestsOf = (meta: IndexMeta, key: string) => meta.packs[key] ?? Object.keys(meta.entries).filter((d) => meta.entries[d] === key);

describe('layer cache at scale: 200 layers, and blob entries evicted by the service', () => {
  let cache: CacheServer;
  let ws: string;
  const repo = uniqueRepo('scale');
  let layers = 0;
  beforeAll(async () => {
    cache = await startCache();
    ws = await tempDir('scale');
    layers = (await writeScaleProject(ws, PROJECT)).layers;
  });
  afterAll(() => cache.close());

  async function run(): Promise<Result> {
    // A fresh runner: no build cache, and not the image of an earlier run either (with the
    // containerd store, its layers would serve the build without the cache).
    const ids = execFileSync('docker', ['images', '-q', repo]).toString().split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rmi', '-f', ...new Set(ids)], { stdio: 'ignore' });
    pruneBuilder();
    cache.resetLog();
    const r = await runAction({ workspace: ws, cache, inputs: { images: repo }, sha: nextSha() });
    if (r.main.exitCode !== 0 || r.post?.exitCode !== 0) throw new Error(`run failed:\n${r.log.slice(-3000)}`);
    return r;
  }

  test('a cold build of 200 layers saves them in at most 4 entries (3 blob entries and the index)', async () => {
    expect(layers).toBe(LAYERS);
    const r = await run();
    const s = steps(r.log);
    expect(s.all.size).toBe(LAYERS);
    expect(r.log).toMatch(/Layer cache: saved obc1-idx-/);
    const keys = created(cache);
    expect(keys.filter(isIndexKey)).toHaveLength(1);
    expect(keys.length).toBeLessThanOrEqual(4);
    const meta = await newestIndex(cache);
    // The large layers are in blob entries, every one of which the service holds.
    expect(Object.keys(meta.entries).length).toBeGreaterThanOrEqual(16);
    const stored = new Set(cache.entries().map((e) => e.key));
    for (const key of Object.values(meta.entries)) expect(stored.has(key)).toBe(true);
  });

  test('on a pruned builder every one of the 201 steps is cached: an exact hit', async () => {
    const r = await run();
    const s = steps(r.log);
    expect(s.all.size).toBe(LAYERS);
    expect([...s.all.keys()].filter((id) => !s.cached.has(id)).map((id) => s.all.get(id))).toEqual([]);
    expect(r.outputs['cache-hit']).toBe('exact');
    expect(created(cache)).toEqual([]);
    expect(warnings(r)).toEqual([]);
  });

  test('after the service evicted a blob entry, the build is green, reuses the rest and uploads only the missing blobs', async () => {
    const before = await newestIndex(cache);
    const blobEntries = [...new Set(Object.values(before.entries))].sort();
    expect(blobEntries.length).toBeGreaterThanOrEqual(2);
    // The worst case: the entry that holds the base image's layer (busybox, about 1 MiB, so in a
    // blob entry), on which every cached layer chain starts.
    const base = before.image.config.layers.filter((l) => l.parent === -1).map((l) => l.blob);
    expect(base).toHaveLength(1);
    const evictedKey = before.entries[base[0]];
    expect(blobEntries).toContain(evictedKey);
    const evicted = new Set(digestsOf(before, evictedKey));
    expect(cache.evict([evictedKey]).map((e) => e.key)).toEqual([evictedKey]);
    const survivors = new Set(cache.entries().map((e) => e.key));

    await changeFinalFile(ws, 1);
    const r = await run();
    const s = steps(r.log);
    expect(s.all.size).toBe(LAYERS);
    // What is left is reused: the final stage (9 steps) runs again for the change, and in the
    // stages only the steps on evicted layers (and a few after them); at least 90% are cached. The
    // base layer is pulled again by the builder, so the steps cached on it are still offered.
    expect(r.log).toMatch(/base image layers; the builder pulled \S*busybox\S*@sha256:[0-9a-f]{64} again/);
    const rerun = [...s.all.keys()].filter((id) => !s.cached.has(id)).map((id) => s.all.get(id));
    const enough = s.cached.size >= Math.floor(LAYERS * 0.9);
    expect({ enough, rerun: enough ? [] : rerun }).toEqual({ enough: true, rerun: [] });
    // Only what was missing went up: no entry the service still holds was created again, and
    // every blob in the new blob entries is one that was evicted.
    const keys = created(cache);
    expect(keys.filter((k) => survivors.has(k))).toEqual([]);
    expect(keys.filter(isIndexKey)).toHaveLength(1);
    expect(keys.length).toBeLessThanOrEqual(4);
    const after = await newestIndex(cache);
    const uploaded = keys.filter((k) => !isIndexKey(k)).flatMap((k) => digestsOf(after, k));
    const stillHeld = Object.keys(before.entries).filter((d) => !evicted.has(d));
    expect(uploaded.filter((d) => stillHeld.includes(d))).toEqual([]);
    // The evicted blobs this build needed are back (a COPY that runs again makes the same layer).
    expect(uploaded.filter((d) => evicted.has(d)).length).toBeGreaterThan(0);
    // The new index promises only what the service holds.
    const stored = new Set(cache.entries().map((e) => e.key));
    for (const key of Object.values(after.entries)) expect(stored.has(key)).toBe(true);
  });

  test('after that repair, a pruned builder gets every step from the cache again', async () => {
    const r = await run();
    const s = steps(r.log);
    expect([...s.all.keys()].filter((id) => !s.cached.has(id)).map((id) => s.all.get(id))).toEqual([]);
    expect(r.outputs['cache-hit']).toBe('exact');
    expect(warnings(r)).toEqual([]);
  });
});
