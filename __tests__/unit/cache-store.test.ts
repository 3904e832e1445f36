// The layer cache store (src/cache/store.ts, with the merge of src/cache/merge.ts) against an
// in-memory cache service: what a save stores (dedup, packing), what a restore gets back (exact,
// partial, miss), and what it does when the service fails, abandons a call or evicts an entry
// between the lookup and the fetch. Exports are written in both forms BuildKit writes: the OCI
// image index (BuildKit < 0.21) and the single OCI image manifest (BuildKit >= 0.21, with
// image-manifest=true).
import { jest } from '@jest/globals';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_BLOB_ENTRIES, NOTHING_CHANGED, SMALL_BLOB_BYTES, cachePaths, openLazyCache, restoreLayerCache, saveLayerCache } from '../../src/cache/store.js';
import type { CachePaths, IndexMeta, RestoreOutcome } from '../../src/cache/store.js';
import { blobKey, planIndexKeys } from '../../src/cache/keys.js';
import type { IndexKeys } from '../../src/cache/keys.js';
import { blobPath, digestOf, readLayout, verifyBlob, writeLayoutMeta } from '../../src/cache/layout.js';
import type { CacheConfig, CacheForm, CacheImage } from '../../src/cache/layout.js';
import { blobsOf, recordsWithResults, referencedBlobs } from '../../src/cache/merge.js';
import { MemoryCache } from './helpers/memory-cache.js';
import { testContext } from './helpers/context.js';

const KiB = 1024;
const LARGE = SMALL_BLOB_BYTES + 64 * KiB;
const SCOPE = 'app';
const keysAt = (sha: string): IndexKeys => planIndexKeys(SCOPE, testContext({ sha }));
const KEYS = keysAt('c1');

let out: string[] = [];
beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
});
afterEach(() => jest.restoreAllMocks());
const warnings = () => out.filter((l) => l.startsWith('::warning::'));

/** A runner: its own working directory, and the service as it sees it. */
async function runner(cache: MemoryCache): Promise<{ p: CachePaths; svc: ReturnType<MemoryCache['client']> }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-store-'));
  return { p: cachePaths(root, SCOPE), svc: cache.client(root) };
}

/** One build step: its name (the record and the layer's bytes derive from it) and its layer's size. */
interface Step {
  name: string;
  size: number;
}

const bytesOf = (s: Step) => Buffer.alloc(s.size, `layer ${s.name} `);
const layerDigest = (s: Step) => digestOf(bytesOf(s));
const recordDigest = (s: Step) => digestOf(`record ${s.name}`);

/**
 * Writes a cache export of `steps` (each on the one before) into `dir`, in `form`. `results`
 * names the steps whose record carries its result (a fully cached step exports none); `blobs`
 * the steps whose layer bytes are in the export.
 */
async function writeExport(dir: string, steps: Step[], form: CacheForm, o: { results?: string[]; blobs?: string[] } = {}): Promise<CacheImage> {
  const config: CacheConfig = {
    layers: steps.map((s, i) => ({ blob: layerDigest(s), parent: i - 1 })),
    records: steps.map((s, i) => ({
      digest: recordDigest(s),
      ...(!o.results || o.results.includes(s.name) ? { layers: [{ layer: i }] } : {}),
      ...(i > 0 ? { inputs: [[{ selector: '', link: i - 1 }]] } : {}),
    })),
  };
  const descriptors = Object.fromEntries(
    steps.map((s) => [layerDigest(s), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest(s), size: s.size }]),
  );
  await fs.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const s of steps) if (!o.blobs || o.blobs.includes(s.name)) await fs.writeFile(blobPath(dir, layerDigest(s)), bytesOf(s));
  const image = { config, descriptors };
  await writeLayoutMeta(dir, image, form);
  return image;
}

/** A build on a fresh runner: restores, exports `steps`, and saves. */
async function buildAndSave(cache: MemoryCache, steps: Step[], o: { keys?: IndexKeys; form?: CacheForm; results?: string[]; blobs?: string[] } = {}) {
  const r = await runner(cache);
  const keys = o.keys ?? KEYS;
  const restored = await restoreLayerCache(r.svc, r.p, keys);
  await writeExport(r.p.layoutOut, steps, o.form ?? 'index', o);
  const before = cache.calls.length;
  const saved = await saveLayerCache(r.svc, r.p, keys, SCOPE, restored.held, 1000);
  return { ...r, restored, saved, calls: cache.calls.slice(before) };
}

const BASE: Step[] = [
  { name: 'base', size: LARGE },
  { name: 'deps', size: LARGE + KiB },
  { name: 'config', size: 2 * KiB },
  { name: 'app', size: 3 * KiB },
];
const total = (steps: Step[]) => steps.reduce((n, s) => n + s.size, 0);

/** The index entry the service holds under `key`, read from its stored files. */
function indexMeta(cache: MemoryCache, key: string): IndexMeta {
  const entry = cache.entries.get(key)!;
  const file = [...entry.files.keys()].find((f) => f.endsWith('meta.json'))!;
  return JSON.parse(entry.files.get(file)!.toString('utf8'));
}

describe('save', () => {
  test('a cold build: one entry per large blob, the small blobs inside the index, the index under the primary key', async () => {
    const cache = new MemoryCache();
    const { saved, restored } = await buildAndSave(cache, BASE);
    expect(restored.hit).toBe('miss');
    expect(saved).toMatchObject({ saved: true, key: KEYS.primary, entriesSaved: 3, newBlobs: 4 });
    // The blob entries first, the index last (it refers to them).
    const stored = cache.saved();
    expect(stored.slice(0, -1).sort()).toEqual([blobKey(layerDigest(BASE[0])), blobKey(layerDigest(BASE[1]))].sort());
    expect(stored.at(-1)).toBe(KEYS.primary);
    const meta = indexMeta(cache, KEYS.primary);
    expect(Object.keys(meta.entries).sort()).toEqual([layerDigest(BASE[0]), layerDigest(BASE[1])].sort());
    expect(meta.packs).toEqual({});
    expect(meta.coldBuildMs).toBe(1000);
    // The small blobs travel in the index entry.
    const files = [...cache.entries.get(KEYS.primary)!.files.keys()];
    for (const s of BASE.slice(2)) expect(files.some((f) => f.endsWith(layerDigest(s).slice(7)))).toBe(true);
    expect(saved.bytesSaved).toBeGreaterThan(total(BASE));
  });

  test('dedup: blobs the service holds (restored, or saved by another scope) are not uploaded again', async () => {
    const cache = new MemoryCache();
    await buildAndSave(cache, BASE);
    const top: Step = { name: 'top', size: LARGE + 2 * KiB };
    const next = await buildAndSave(cache, [...BASE, top], { keys: keysAt('c2') });
    expect(next.restored.hit).toBe('partial');
    expect(next.calls.filter((c) => c.verb === 'save').map((c) => c.key)).toEqual([blobKey(layerDigest(top)), keysAt('c2').primary]);
    expect(next.saved).toMatchObject({ saved: true, entriesSaved: 2, newBlobs: 1 });
    // Another scope with the same base layer: looked up, found, not uploaded; its index refers to it.
    const other = await runner(cache);
    const otherKeys = planIndexKeys('other', testContext({ sha: 'c3' }));
    const op = cachePaths(path.dirname(other.p.store), 'other');
    await writeExport(op.layoutOut, [BASE[0], { name: 'own', size: LARGE + 3 * KiB }], 'index');
    const before = cache.calls.length;
    const r = await saveLayerCache(other.svc, op, otherKeys, 'other', {});
    const calls = cache.calls.slice(before);
    expect(calls).toContainEqual({ verb: 'lookup', key: blobKey(layerDigest(BASE[0])), result: blobKey(layerDigest(BASE[0])) });
    expect(calls.filter((c) => c.verb === 'save').map((c) => c.key)).toEqual([
      blobKey(digestOf(bytesOf({ name: 'own', size: LARGE + 3 * KiB }))),
      otherKeys.primary,
    ]);
    expect(r.entriesSaved).toBe(2);
    expect(indexMeta(cache, otherKeys.primary).entries[layerDigest(BASE[0])]).toBe(blobKey(layerDigest(BASE[0])));
  });

  test(`packing: more than ${MAX_BLOB_ENTRIES} new large blobs go into ${MAX_BLOB_ENTRIES} entries, balanced by size`, async () => {
    const cache = new MemoryCache();
    const sizes = [9, 1, 4, 7, 2, 6, 3].map((n) => LARGE + n * 64 * KiB);
    const steps = sizes.map((size, i) => ({ name: `big${i}`, size }));
    const { saved } = await buildAndSave(cache, steps);
    const packs = cache.saved('obc1-pack-');
    expect(cache.saved('obc1-blob-')).toEqual([]);
    expect(packs).toHaveLength(MAX_BLOB_ENTRIES);
    expect(saved.entriesSaved).toBe(MAX_BLOB_ENTRIES + 1);
    const meta = indexMeta(cache, KEYS.primary);
    expect(Object.keys(meta.packs).sort()).toEqual([...packs].sort());
    // Every blob in exactly one pack, and the index names that pack for it.
    const packed = Object.values(meta.packs).flat();
    expect(packed.sort()).toEqual(steps.map(layerDigest).sort());
    for (const [key, digests] of Object.entries(meta.packs)) for (const d of digests) expect(meta.entries[d]).toBe(key);
    // Balanced: the heaviest pack outweighs the lightest by no more than the largest blob.
    const sizeOf = new Map(steps.map((s) => [layerDigest(s), s.size]));
    const weights = Object.values(meta.packs).map((ds) => ds.reduce((n, d) => n + sizeOf.get(d)!, 0));
    expect(Math.max(...weights) - Math.min(...weights)).toBeLessThanOrEqual(Math.max(...sizes));
    expect(weights.reduce((a, b) => a + b, 0)).toBe(total(steps));
    // And they come back: one fetch per pack.
    const r = await runner(cache);
    const back = await restoreLayerCache(r.svc, r.p, KEYS);
    expect(back).toMatchObject({ hit: 'exact', missing: 0, entriesRestored: 1 + MAX_BLOB_ENTRIES, bytesRestored: total(steps) });
  });

  test('an export the restored cache already serves is not saved; nothing is uploaded', async () => {
    const cache = new MemoryCache();
    await buildAndSave(cache, BASE);
    const again = await buildAndSave(cache, BASE, { keys: keysAt('c2') });
    expect(again.saved).toMatchObject({ saved: false, reason: NOTHING_CHANGED, entriesSaved: 0 });
    expect(again.calls.filter((c) => c.verb === 'save')).toEqual([]);
  });

  test('merge: an eroded export (cached steps export no result) keeps the restored results in the new index', async () => {
    const cache = new MemoryCache();
    await buildAndSave(cache, BASE);
    const top: Step = { name: 'top', size: 4 * KiB };
    // BuildKit exports no result for the steps it loaded from the cache, nor their bytes.
    const next = await buildAndSave(cache, [...BASE, top], { keys: keysAt('c2'), results: ['top'], blobs: ['top'] });
    expect(next.saved.saved).toBe(true);
    const r = await runner(cache);
    const back = await restoreLayerCache(r.svc, r.p, keysAt('c2'));
    expect(back.hit).toBe('exact');
    const layout = (await readLayout(r.p.layoutIn))!;
    expect(recordsWithResults(layout.config)).toEqual(new Set([...BASE, top].map(recordDigest)));
    for (const d of blobsOf(layout.config)) expect(await verifyBlob(blobPath(r.p.layoutIn, d), d)).toBe(true);
  });
});

describe.each<[CacheForm, string]>([
  ['index', 'an OCI image index (BuildKit < 0.21)'],
  ['manifest', 'one OCI image manifest (BuildKit >= 0.21, image-manifest=true)'],
])('an export as %s: %s', (form) => {
  test.each<CacheForm>(['index', 'manifest'])('is saved and restored as the same cache, in the %s form asked for', async (to) => {
    const cache = new MemoryCache();
    const { saved } = await buildAndSave(cache, BASE, { form });
    expect(saved).toMatchObject({ saved: true, newBlobs: 4 });
    const r = await runner(cache);
    const back = await restoreLayerCache(r.svc, r.p, KEYS, to);
    expect(back.layoutReady).toBe(true);
    const layout = (await readLayout(r.p.layoutIn))!;
    expect(layout.form).toBe(to);
    expect(recordsWithResults(layout.config)).toEqual(new Set(BASE.map(recordDigest)));
    expect(blobsOf(layout.config)).toEqual(new Set(BASE.map(layerDigest)));
    for (const s of BASE) expect(layout.descriptors[layerDigest(s)].size).toBe(s.size);
  });
});

describe('restore', () => {
  let cache: MemoryCache;
  beforeEach(async () => {
    cache = new MemoryCache();
    await buildAndSave(cache, BASE);
    out = [];
  });
  const restore = async (keys = KEYS): Promise<RestoreOutcome & { p: CachePaths; svc: ReturnType<MemoryCache['client']> }> => {
    const r = await runner(cache);
    return { ...(await restoreLayerCache(r.svc, r.p, keys)), ...r };
  };
  const usable = async (p: CachePaths) => referencedBlobs((await readLayout(p.layoutIn))!.config);

  test('exact: the index of this commit, every blob, a layout for --cache-from', async () => {
    const r = await restore();
    expect(r).toMatchObject({
      hit: 'exact',
      matchedKey: KEYS.primary,
      missing: 0,
      layoutReady: true,
      entriesRestored: 3,
      bytesRestored: total(BASE),
      coldBuildMs: 1000,
    });
    expect(r.held).toEqual({ [layerDigest(BASE[0])]: blobKey(layerDigest(BASE[0])), [layerDigest(BASE[1])]: blobKey(layerDigest(BASE[1])) });
    expect(await usable(r.p)).toEqual(new Set(BASE.map(layerDigest)));
    expect(warnings()).toEqual([]);
  });

  test("partial: another commit's index of the branch", async () => {
    const r = await restore(keysAt('c2'));
    expect(r).toMatchObject({ hit: 'partial', matchedKey: KEYS.primary, missing: 0, layoutReady: true });
  });

  test('miss: no index for this scope; no layout', async () => {
    const r = await restore(planIndexKeys('elsewhere', testContext({ sha: 'c1' })));
    expect(r).toMatchObject({ hit: 'miss', layoutReady: false, entriesRestored: 0, bytesRestored: 0, held: {} });
    expect(existsSync(r.p.layoutIn)).toBe(false);
    expect(out.join('')).toMatch(/no index entry for this scope yet \(cold build\)/);
  });

  test('a download cut short: its partial file is removed, the steps on it are rebuilt, the others are used', async () => {
    const deps = layerDigest(BASE[1]);
    cache.faults.set(blobKey(deps), 'partial');
    const r = await restore();
    expect(r).toMatchObject({ hit: 'partial', missing: 1, layoutReady: true, entriesRestored: 2 });
    expect(r.held[deps]).toBeUndefined();
    expect(existsSync(blobPath(r.p.store, deps))).toBe(false);
    // Only the base step is still served: every later step sits on the missing layer.
    expect(await usable(r.p)).toEqual(new Set([layerDigest(BASE[0])]));
    expect(warnings().join('')).toMatch(/could not be restored \(evicted or unavailable\)/);
  });

  test('a failed download of the base layer leaves nothing usable: no layout, a miss', async () => {
    cache.faults.set(blobKey(layerDigest(BASE[0])), 'fail');
    const r = await restore();
    expect(r).toMatchObject({ hit: 'miss', layoutReady: false, missing: 1 });
    expect(warnings().join('')).toMatch(/nothing usable could be restored/);
  });

  test('an abandoned index call: the phase gave up, the build goes without cache, no call reaches the service after it', async () => {
    cache.faults.set(KEYS.primary, 'abandon');
    const before = cache.calls.length;
    const r = await restore();
    expect(r).toMatchObject({ hit: 'miss', layoutReady: false });
    expect(r.svc.gaveUp).toBe(true);
    expect(cache.calls.length - before).toBe(1);
    expect(out.join('')).toMatch(/Layer cache: building without cache\./);
    expect(out.join('')).not.toMatch(/cold build/);
  });

  test('an abandoned blob call: the blobs that arrived are used, and no eviction is claimed for the rest', async () => {
    cache.faults.set(blobKey(layerDigest(BASE[1])), 'abandon');
    const r = await restore();
    expect(r.svc.gaveUp).toBe(true);
    expect(r.missing).toBeGreaterThanOrEqual(1);
    expect(r.held[layerDigest(BASE[1])]).toBeUndefined();
    expect(warnings().join('')).not.toMatch(/evicted or unavailable/);
  });

  test('eviction between the index lookup and the fetch: the evicted blob is missing, the rest is used', async () => {
    const deps = blobKey(layerDigest(BASE[1]));
    cache.afterRestore = (key) => key === KEYS.primary && cache.evict(deps);
    const before = cache.calls.length;
    const r = await restore();
    expect(r).toMatchObject({ hit: 'partial', missing: 1, layoutReady: true });
    expect(r.held).toEqual({ [layerDigest(BASE[0])]: blobKey(layerDigest(BASE[0])) });
    expect(cache.calls.slice(before).filter((c) => c.key === deps)).toEqual([{ verb: 'restore', key: deps }]);
  });

  test('lazy: an entry evicted after the index was read fails its fetch; checkHeld finds the others gone; the retry offers neither', async () => {
    const r = await runner(cache);
    const lz = await openLazyCache(r.svc, r.p, KEYS);
    expect(lz.outcome.hit).toBe('exact');
    expect(lz.image && blobsOf(lz.image.config)).toEqual(new Set(BASE.map(layerDigest)));
    cache.evict(blobKey(layerDigest(BASE[1])));
    expect(await lz.fetch(layerDigest(BASE[1]))).toBeUndefined();
    expect(lz.failed).toEqual(new Set([layerDigest(BASE[1])]));
    expect(lz.held(layerDigest(BASE[1]))).toBe(false);
    cache.evict(blobKey(layerDigest(BASE[0])));
    expect(await lz.checkHeld()).toBe(1);
    expect(lz.held(layerDigest(BASE[0]))).toBe(false);
    expect(lz.outcome.held).toEqual({});
    // Without its base layer nothing is left to offer.
    expect(lz.reoffer()).toBeUndefined();
    // Its base layer is a large blob in an entry of its own; a builder that pulled it again is offered it, and the step on it, whose entry is gone, is not.
    expect(lz.bases).toEqual(new Set([layerDigest(BASE[0])]));
    const again = lz.reoffer(new Set([layerDigest(BASE[0])]));
    expect(again && blobsOf(again.config)).toEqual(new Set([layerDigest(BASE[0])]));
  });

  test('lazy: a fetched blob is on disk, counted once, and a second ask does not fetch again', async () => {
    const r = await runner(cache);
    const lz = await openLazyCache(r.svc, r.p, KEYS);
    const d = layerDigest(BASE[0]);
    expect(await lz.localPath(d)).toBeUndefined();
    const file = await lz.fetch(d);
    expect(file && (await verifyBlob(file, d))).toBe(true);
    expect(await lz.fetch(d)).toBe(file);
    expect(cache.calls.filter((c) => c.key === blobKey(d) && c.verb === 'restore')).toHaveLength(1);
    expect(lz.outcome).toMatchObject({ entriesRestored: 2, bytesRestored: BASE[2].size + BASE[3].size + BASE[0].size });
    expect(await lz.localPath(d)).toBe(blobPath(r.p.store, d));
  });
});
