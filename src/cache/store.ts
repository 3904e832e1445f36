// The layer cache in the Actions cache service, content-addressed: large blobs live in entries keyed
// by their digests (immutable, shared by every run, branch and image), and one small index entry per
// scope and commit holds the cache config, the map of which entry holds which blob, and the small
// blobs. Restore fetches the index through restore-key fallback and then only what it references.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { CacheForm, CacheImage, Descriptor } from './layout.js';
import { blobPath, linkBlob, readLayout, verifyBlob, writeLayoutMeta } from './layout.js';
import { blobsOf, descriptorsFor, mergeConfigs, pruneToPresent, recordsWithResults, referencedBlobs } from './merge.js';
import type { IndexKeys } from './keys.js';
import { planPacks } from './keys.js';
import type { CacheService } from './service.js';
import { mapLimit } from './service.js';

/** Blobs smaller than this travel inside the index entry instead of an entry of their own. */
export const SMALL_BLOB_BYTES = 512 * 1024;
/** At most this many blob entries are uploaded by one run (plus the index entry). */
export const MAX_BLOB_ENTRIES = 3;
const INDEX_FORMAT = 1;
const RESTORE_CONCURRENCY = 4;

export interface IndexMeta {
  format: number;
  scope: string;
  key: string;
  createdAt: string;
  image: CacheImage;
  /** Large blob digest -> key of the entry that holds it. */
  entries: Record<string, string>;
  /** Entry key -> the digests it holds. */
  packs: Record<string, string[]>;
  /** Build time of the cold build that started this cache, carried along by later saves. */
  coldBuildMs?: number;
}

export interface CachePaths {
  /** Holds blobs restored from or saved to blob entries (shared by all scopes). */
  store: string;
  /** The index entry's directory for this scope. */
  index: string;
  /** The layout handed to buildx as --cache-from. */
  layoutIn: string;
  /** The directory buildx exports to (--cache-to dest). */
  layoutOut: string;
}

export function cachePaths(root: string, scope: string): CachePaths {
  return {
    store: path.join(root, 'store'),
    index: path.join(root, 'store', `index-${scope}`),
    layoutIn: path.join(root, scope, 'in'),
    layoutOut: path.join(root, scope, 'out'),
  };
}

function entryPaths(p: CachePaths, digests: string[]): string[] {
  return [...digests].sort().map((d) => blobPath(p.store, d));
}

export type CacheHit = 'exact' | 'partial' | 'miss' | 'disabled';

export interface RestoreOutcome {
  hit: CacheHit;
  matchedKey?: string;
  /** Large blobs that are held by an entry of the service and were restored: digest -> entry key. */
  held: Record<string, string>;
  /** Blobs the index named that could not be restored. */
  missing: number;
  bytesRestored: number;
  entriesRestored: number;
  /** True when a layout for --cache-from was written. */
  layoutReady: boolean;
  /** Build time of the cold build that started the restored cache, when it recorded one. */
  coldBuildMs?: number;
}

async function readMeta(dir: string): Promise<IndexMeta | undefined> {
  try {
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'meta.json'), 'utf8')) as IndexMeta;
    if (meta.format !== INDEX_FORMAT || !meta.image?.config || !meta.entries) return undefined;
    return meta;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** The restored index: what it names, and which of its small blobs arrived intact. */
export interface RestoredIndex {
  meta: IndexMeta;
  matchedKey: string;
  /** Small blobs (inside the index entry) that verified. */
  small: Set<string>;
  bytes: number;
}

/** Fetches the index entry through restore-key fallback; undefined on a miss or a fault. */
export async function restoreIndex(svc: CacheService, p: CachePaths, keys: IndexKeys): Promise<RestoredIndex | undefined> {
  await fs.rm(p.index, { recursive: true, force: true });
  await fs.rm(p.layoutIn, { recursive: true, force: true });
  await fs.rm(p.layoutOut, { recursive: true, force: true });
  await fs.mkdir(p.index, { recursive: true });
  const matched = await svc.restore([p.index], keys.primary, keys.restore);
  if (!matched) {
    // A failed download may have left part of the index behind.
    await fs.rm(p.index, { recursive: true, force: true });
    core.info(svc.gaveUp ? 'Layer cache: building without cache.' : 'Layer cache: no index entry for this scope yet (cold build).');
    return undefined;
  }
  const meta = await readMeta(p.index);
  if (!meta) {
    core.warning(`Layer cache: the index entry ${matched} is unreadable; building without cache.`);
    await fs.rm(p.index, { recursive: true, force: true });
    return undefined;
  }
  core.info(`Layer cache: index ${matched}`);
  return { meta, matchedKey: matched, ...(await verifySmall(p, meta)) };
}

async function verifySmall(p: CachePaths, meta: IndexMeta): Promise<{ small: Set<string>; bytes: number }> {
  const small = new Set<string>();
  let bytes = 0;
  for (const d of referencedBlobs(meta.image.config)) {
    if (meta.entries[d]) continue;
    const f = blobPath(p.index, d);
    if (await verifyBlob(f, d)) {
      small.add(d);
      bytes += await sizeOf(f);
    }
  }
  return { small, bytes };
}

/**
 * Downloads the entry holding `digests` and keeps each blob that verifies; removes whatever a
 * failed, truncated or corrupted download left behind. Returns the digests now on disk.
 */
async function fetchEntry(svc: CacheService, p: CachePaths, key: string, digests: string[]): Promise<{ ok: Set<string>; restored: boolean; bytes: number }> {
  await fs.mkdir(path.join(p.store, 'blobs', 'sha256'), { recursive: true });
  const got = await svc.restore(entryPaths(p, digests), key, []);
  const ok = new Set<string>();
  let bytes = 0;
  if (got !== key && !svc.gaveUp) core.warning(`Layer cache: entry ${key} could not be restored (evicted or unavailable); the steps that need it will be rebuilt.`);
  for (const d of digests) {
    const f = blobPath(p.store, d);
    // Content-addressed: a file is good exactly when its digest matches.
    if (await verifyBlob(f, d)) {
      ok.add(d);
      bytes += await sizeOf(f);
    } else {
      await fs.rm(f, { force: true });
      if (got === key) core.warning(`Layer cache: blob ${d.slice(0, 19)} from ${key} failed verification; the steps that need it will be rebuilt.`);
    }
  }
  return { ok, restored: got === key, bytes };
}

/**
 * Eager restore: every referenced blob is downloaded and a local layout (in `form`) is written for
 * --cache-from type=local.
 */
export async function restoreLayerCache(svc: CacheService, p: CachePaths, keys: IndexKeys, form: CacheForm = 'index'): Promise<RestoreOutcome> {
  const outcome: RestoreOutcome = { hit: 'miss', held: {}, missing: 0, bytesRestored: 0, entriesRestored: 0, layoutReady: false };
  const idx = await restoreIndex(svc, p, keys);
  if (!idx) return outcome;
  const { meta } = idx;
  outcome.matchedKey = idx.matchedKey;
  outcome.entriesRestored = 1;
  outcome.bytesRestored = idx.bytes;
  outcome.coldBuildMs = meta.coldBuildMs;
  const present = new Set(idx.small);
  const needed = referencedBlobs(meta.image.config);
  const wanted = new Map<string, string[]>();
  for (const d of needed) {
    const key = meta.entries[d];
    if (key) wanted.set(key, meta.packs[key] ?? [d]);
  }
  await mapLimit([...wanted.entries()], RESTORE_CONCURRENCY, async ([key, digests]) => {
    const r = await fetchEntry(svc, p, key, digests);
    if (r.restored) outcome.entriesRestored++;
    outcome.bytesRestored += r.bytes;
    for (const d of r.ok) {
      present.add(d);
      if (r.restored) outcome.held[d] = key;
    }
  });
  for (const d of needed) if (!present.has(d)) outcome.missing++;

  const config = pruneToPresent(meta.image.config, present);
  if (config.records.length === 0 || config.layers.length === 0) {
    core.warning('Layer cache: nothing usable could be restored; building without cache.');
    return outcome;
  }
  const image = descriptorsFor(meta.image, config);
  await fs.mkdir(p.layoutIn, { recursive: true });
  for (const d of blobsOf(config)) {
    await linkBlob(meta.entries[d] ? blobPath(p.store, d) : blobPath(p.index, d), p.layoutIn, d);
  }
  await writeLayoutMeta(p.layoutIn, image, form);
  outcome.layoutReady = true;
  outcome.hit = idx.matchedKey === keys.primary && outcome.missing === 0 ? 'exact' : 'partial';
  if (outcome.missing) core.warning(`Layer cache: ${outcome.missing} blob(s) could not be restored; the steps that need them will be rebuilt.`);
  return outcome;
}

/**
 * Lazy restore, for the cache proxy: only the index is fetched now; each large blob is fetched
 * when BuildKit asks for it. `held` starts as every large blob the index names; a blob whose
 * fetch fails leaves it, so the save does not promise it again.
 */
export interface LazyCache {
  outcome: RestoreOutcome;
  /** The cache to offer, pruned to what is held or present. */
  image?: CacheImage;
  localPath(digest: string): Promise<string | undefined>;
  fetch(digest: string): Promise<string | undefined>;
  held(digest: string): boolean;
  /** Digests whose fetch failed. */
  failed: Set<string>;
  /** The offer without the failed blobs (for a retried build). */
  reoffer(): CacheImage | undefined;
}

export async function openLazyCache(svc: CacheService, p: CachePaths, keys: IndexKeys): Promise<LazyCache> {
  const outcome: RestoreOutcome = { hit: 'miss', held: {}, missing: 0, bytesRestored: 0, entriesRestored: 0, layoutReady: false };
  const idx = await restoreIndex(svc, p, keys);
  const failed = new Set<string>();
  const fetched = new Set<string>();
  const inflight = new Map<string, Promise<Set<string>>>();
  const meta = idx?.meta;
  const offer = (): CacheImage | undefined => {
    if (!idx || !meta) return undefined;
    const available = new Set<string>([...idx.small, ...Object.keys(meta.entries).filter((d) => !failed.has(d))]);
    const config = pruneToPresent(meta.image.config, available);
    if (config.layers.length === 0) return undefined;
    return descriptorsFor(meta.image, config);
  };
  if (idx && meta) {
    outcome.matchedKey = idx.matchedKey;
    outcome.entriesRestored = 1;
    outcome.bytesRestored = idx.bytes;
    outcome.coldBuildMs = meta.coldBuildMs;
    for (const [d, key] of Object.entries(meta.entries)) outcome.held[d] = key;
    outcome.hit = idx.matchedKey === keys.primary ? 'exact' : 'partial';
  }
  const image = offer();
  if (idx && !image) {
    core.warning('Layer cache: nothing usable could be restored; building without cache.');
    outcome.hit = 'miss';
  }
  return {
    outcome,
    image,
    failed,
    reoffer: offer,
    held: (d) => !!meta?.entries[d] && !failed.has(d),
    localPath: async (d) => {
      if (idx?.small.has(d)) return blobPath(p.index, d);
      if (fetched.has(d)) return blobPath(p.store, d);
      return undefined;
    },
    fetch: async (d) => {
      const key = meta?.entries[d];
      if (!key || failed.has(d)) return undefined;
      let job = inflight.get(key);
      if (!job) {
        const digests = meta!.packs[key] ?? [d];
        job = fetchEntry(svc, p, key, digests).then((r) => {
          if (r.restored) outcome.entriesRestored++;
          outcome.bytesRestored += r.bytes;
          for (const x of digests) {
            if (r.ok.has(x)) fetched.add(x);
            else {
              failed.add(x);
              delete outcome.held[x];
            }
          }
          return r.ok;
        });
        inflight.set(key, job);
      }
      return (await job).has(d) ? blobPath(p.store, d) : undefined;
    },
  };
}

export const NOTHING_CHANGED = 'nothing changed: the cache already holds every layer of this build';

/** This build's export beside the cache it started from. */
export interface ExportComparison {
  fresh: CacheImage;
  restored?: CacheImage;
  restoredMeta?: IndexMeta;
  freshBlobs: Set<string>;
  restoredBlobs: Set<string>;
  newBlobDigests: string[];
  /** The build made no new blob and no new cache record: the cache already serves all of it. */
  unchanged: boolean;
}

/** Compares the export with the restored index (limited to what is still held); undefined without an export. */
export async function compareExport(p: CachePaths, held: Record<string, string>): Promise<ExportComparison | undefined> {
  const fresh = await readLayout(p.layoutOut);
  if (!fresh) return undefined;
  const restoredMeta = await readMeta(p.index);
  let restored: CacheImage | undefined;
  if (restoredMeta) {
    const { small } = await verifySmall(p, restoredMeta);
    const cfg = pruneToPresent(restoredMeta.image.config, new Set([...small, ...Object.keys(held)]));
    if (cfg.layers.length) restored = descriptorsFor(restoredMeta.image, cfg);
  }
  const restoredBlobs = restored ? blobsOf(restored.config) : new Set<string>();
  const freshBlobs = referencedBlobs(fresh.config);
  const newBlobDigests = [...freshBlobs].filter((d) => !restoredBlobs.has(d));
  const restoredRecords = restored ? new Set(restored.config.records.map((r) => r.digest)) : new Set<string>();
  const newRecords = fresh.config.records.filter((r) => !restoredRecords.has(r.digest)).length;
  const unchanged = !!restored && newBlobDigests.length === 0 && newRecords === 0;
  return { fresh, restored, restoredMeta: restoredMeta ?? undefined, freshBlobs, restoredBlobs, newBlobDigests, unchanged };
}

export interface SaveOutcome {
  saved: boolean;
  /** Why nothing was saved, when nothing was. */
  reason?: string;
  entriesSaved: number;
  bytesSaved: number;
  newBlobs: number;
}

/**
 * Saves what this build exported, merged with what was restored. Uploads only blobs the service
 * does not hold, in at most MAX_BLOB_ENTRIES entries, then the index entry. Saves nothing when the
 * build produced no new blob and no new record (a full hit).
 */
export async function saveLayerCache(
  svc: CacheService,
  p: CachePaths,
  keys: IndexKeys,
  scope: string,
  held: Record<string, string>,
  buildMs?: number,
): Promise<SaveOutcome> {
  const none = (reason: string): SaveOutcome => ({ saved: false, reason, entriesSaved: 0, bytesSaved: 0, newBlobs: 0 });
  const cmp = await compareExport(p, held);
  if (!cmp) return none('the build exported no cache');
  const { fresh, restored, restoredMeta, freshBlobs, restoredBlobs, newBlobDigests } = cmp;
  if (cmp.unchanged) return none(NOTHING_CHANGED);

  // Where each blob's bytes are on this runner: the export, the index, the blob store, the layout
  // given to buildx. A blob the service holds needs no bytes.
  const located = new Map<string, string>();
  for (const d of new Set([...freshBlobs, ...restoredBlobs])) {
    for (const f of [blobPath(p.layoutOut, d), blobPath(p.index, d), blobPath(p.store, d), blobPath(p.layoutIn, d)]) {
      if (await exists(f)) {
        located.set(d, f);
        break;
      }
    }
  }
  const present = new Set<string>([...located.keys(), ...Object.keys(held)]);
  const merged = mergeConfigs(fresh.config, restored?.config, present);
  const descriptors: Record<string, Descriptor> = { ...(restored?.descriptors ?? {}), ...fresh.descriptors };
  const image = descriptorsFor({ config: merged, descriptors }, merged);
  const source = (d: string) => located.get(d) ?? blobPath(p.layoutOut, d);

  // Large blobs the service does not hold yet go into blob entries.
  const large: { digest: string; size: number }[] = [];
  const small: string[] = [];
  for (const d of blobsOf(merged)) {
    const size = image.descriptors[d]?.size ?? (await sizeOf(source(d)));
    if (size < SMALL_BLOB_BYTES) {
      if (located.has(d)) small.push(d);
    } else if (!held[d] && located.has(d)) large.push({ digest: d, size });
  }
  const entries: Record<string, string> = { ...held };
  const packs: Record<string, string[]> = {};
  let entriesSaved = 0;
  let bytesSaved = 0;
  const stored = new Set<string>(Object.keys(held));
  const plan = planPacks(large, MAX_BLOB_ENTRIES);
  await fs.mkdir(path.join(p.store, 'blobs', 'sha256'), { recursive: true });
  for (const entry of plan) {
    for (const d of entry.digests) await linkBlob(source(d), p.store, d);
    const paths = entryPaths(p, entry.digests);
    // Content-addressed: another run, branch or image may have stored this entry already.
    let ok = (await svc.restore(paths, entry.key, [], { lookupOnly: true })) === entry.key;
    if (!ok) {
      ok = await svc.save(paths, entry.key);
      if (ok) {
        entriesSaved++;
        for (const f of paths) bytesSaved += await sizeOf(f);
      }
    }
    if (!ok) continue;
    for (const d of entry.digests) {
      stored.add(d);
      entries[d] = entry.key;
    }
    if (entry.digests.length > 1) packs[entry.key] = entry.digests;
  }
  // Packs from earlier runs that still hold referenced blobs.
  for (const [key, digests] of Object.entries(restoredMeta?.packs ?? {})) {
    if (digests.some((d) => entries[d] === key)) packs[key] = digests;
  }

  // The index must only promise what is stored: drop results whose blobs did not make it.
  const available = new Set<string>([...small, ...stored]);
  const finalConfig = pruneToPresent(merged, available);
  const finalImage = descriptorsFor(image, finalConfig);
  for (const d of Object.keys(entries)) if (!blobsOf(finalConfig).has(d)) delete entries[d];
  for (const [key, digests] of Object.entries(packs)) if (!digests.some((d) => entries[d] === key)) delete packs[key];

  // The index entry must be archived from p.index (its path is part of the entry's version): move
  // the restored one aside first, since small blobs may be linked from it.
  const staging = p.index;
  const previous = `${p.index}.prev`;
  await fs.rm(previous, { recursive: true, force: true });
  if (await exists(staging)) await fs.rename(staging, previous);
  const from = (d: string) => {
    const f = source(d);
    return f.startsWith(staging + path.sep) ? previous + f.slice(staging.length) : f;
  };
  await fs.mkdir(staging, { recursive: true });
  for (const d of small) if (available.has(d) && blobsOf(finalConfig).has(d)) await linkBlob(from(d), staging, d);
  await fs.rm(previous, { recursive: true, force: true });
  const meta: IndexMeta = {
    format: INDEX_FORMAT,
    scope,
    key: keys.primary,
    createdAt: new Date().toISOString(),
    image: finalImage,
    entries,
    packs,
    // A cache that started cold records how long that build took, for the "time saved" figure.
    coldBuildMs: restoredMeta ? restoredMeta.coldBuildMs : buildMs,
  };
  await fs.writeFile(path.join(staging, 'meta.json'), JSON.stringify(meta));
  const indexOk = await svc.save([staging], keys.primary);
  if (!indexOk) {
    const why = svc.gaveUp ? 'the cache service kept failing, so this run stopped using it' : svc.lastFault ? `the cache service did not store the index entry: ${svc.lastFault}` : 'the cache service did not store the index entry (another job may be saving the same key)';
    return { saved: false, reason: why, entriesSaved, bytesSaved, newBlobs: newBlobDigests.length };
  }
  entriesSaved++;
  for (const d of small) bytesSaved += await sizeOf(blobPath(staging, d));
  bytesSaved += await sizeOf(path.join(staging, 'meta.json'));
  core.info(
    `Layer cache: saved ${keys.primary} (${finalConfig.records.length} records, ${recordsWithResults(finalConfig).size} with layers, ${entriesSaved} entries, ${bytesSaved} bytes).`,
  );
  return { saved: true, entriesSaved, bytesSaved, newBlobs: newBlobDigests.length };
}
