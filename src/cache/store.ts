// The layer cache in the Actions cache service, content-addressed: large blobs live in entries keyed
// by their digests (immutable, shared by every run, branch and image), and one small index entry per
// scope and commit holds the cache config, the map of which entry holds which blob, and the small
// blobs. Restore fetches the index through restore-key fallback and then only what it references.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { CacheConfig, CacheForm, CacheImage, Descriptor } from './layout.js';
import { blobPath, exists, fileSize, linkBlob, readLayout, verifyBlob, verifyBlobs, writeLayoutMeta } from './layout.js';
import { baseLayerBlobs, blobsOf, descriptorsFor, indexVerdict, mergeConfigs, pruneToPresent, recordsWithResults, referencedBlobs } from './merge.js';
import type { IndexKeys } from './keys.js';
import { indexLookup, isCommitIndexKey, nextIndexKey, planPacks } from './keys.js';
import type { CacheService } from './service.js';
import { mapLimit } from '../files.js';

/** Blobs smaller than this travel inside the index entry instead of an entry of their own. */
export const SMALL_BLOB_BYTES = 512 * 1024;
/** At most this many blob entries are uploaded by one run (plus the index entry). */
export const MAX_BLOB_ENTRIES = 3;
const INDEX_FORMAT = 1;
const RESTORE_CONCURRENCY = 4;
/** Blob entries archived and uploaded at once by a save. */
const SAVE_CONCURRENCY = MAX_BLOB_ENTRIES;

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

/** The size of `file`; 0 when it cannot be read. */
const sizeOf = async (file: string): Promise<number> => (await fileSize(file)) ?? 0;

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
  const lookup = indexLookup(keys);
  const matched = await svc.restore([p.index], lookup.key, lookup.restoreKeys);
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
  if (got !== key && !svc.gaveUp)
    core.warning(`Layer cache: entry ${key} could not be restored (evicted or unavailable); the steps that need it will be rebuilt.`);
  // Content-addressed: a file is good exactly when its digest matches.
  const good = await verifyBlobs(digests.map((d) => ({ file: blobPath(p.store, d), digest: d })));
  for (const [i, d] of digests.entries()) {
    const f = blobPath(p.store, d);
    if (good[i]) {
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
  outcome.hit = isCommitIndexKey(keys, idx.matchedKey) && outcome.missing === 0 ? 'exact' : 'partial';
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
  /**
   * The offer without the failed blobs (for a retried build); blobs in `assume` are offered even
   * though they failed, for a builder that holds them already (base image layers it pulled).
   */
  reoffer(assume?: ReadonlySet<string>): CacheImage | undefined;
  /** Large blobs of the base images the cached steps build on (see baseLayerBlobs). */
  bases: ReadonlySet<string>;
  /**
   * Looks up every entry not fetched yet and treats those the service no longer holds (evicted) as
   * failed, so a retried build is not offered them either; returns how many entries were gone.
   */
  checkHeld(): Promise<number>;
}

export async function openLazyCache(svc: CacheService, p: CachePaths, keys: IndexKeys): Promise<LazyCache> {
  const outcome: RestoreOutcome = { hit: 'miss', held: {}, missing: 0, bytesRestored: 0, entriesRestored: 0, layoutReady: false };
  const idx = await restoreIndex(svc, p, keys);
  const failed = new Set<string>();
  const fetched = new Set<string>();
  const inflight = new Map<string, Promise<Set<string>>>();
  const meta = idx?.meta;
  const offer = (assume: ReadonlySet<string> = new Set()): CacheImage | undefined => {
    if (!idx || !meta) return undefined;
    const available = new Set<string>([...idx.small, ...Object.keys(meta.entries).filter((d) => !failed.has(d) || assume.has(d))]);
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
    outcome.hit = isCommitIndexKey(keys, idx.matchedKey) ? 'exact' : 'partial';
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
    // Only a retry asks, so a build that needs none does not pay for it.
    get bases() {
      return meta ? new Set([...baseLayerBlobs(meta.image.config)].filter((d) => !!meta.entries[d])) : new Set<string>();
    },
    checkHeld: async () => {
      if (!meta) return 0;
      const unfetched: Record<string, string> = {};
      for (const [d, key] of Object.entries(meta.entries)) if (!inflight.has(key) && !failed.has(d)) unfetched[d] = key;
      const gone = await goneEntries(svc, p, unfetched, meta.packs);
      for (const [d, key] of Object.entries(meta.entries)) {
        if (!gone.has(key)) continue;
        failed.add(d);
        delete outcome.held[d];
      }
      return gone.size;
    },
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

/** Entry key -> the digests it holds, for the entries `held` names (a pack holds all its digests). */
export function entriesOf(held: Record<string, string>, packs: Record<string, string[]> = {}): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [d, key] of Object.entries(held)) {
    if (out.has(key)) continue;
    out.set(key, packs[key] ?? [d]);
  }
  return out;
}

/** `held` without the blobs whose entry is in `gone`. */
export function withoutGone(held: Record<string, string>, gone: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [d, key] of Object.entries(held)) if (!gone.has(key)) out[d] = key;
  return out;
}

/**
 * The keys of the entries `held` names that the service no longer holds (evicted: unused for a
 * while, or a quota reached). A lookup that fails because the service is failing proves nothing:
 * an entry is gone only when a second lookup misses it too, and nothing is reported gone once the
 * service was given up on.
 */
export async function goneEntries(svc: CacheService, p: CachePaths, held: Record<string, string>, packs: Record<string, string[]> = {}): Promise<Set<string>> {
  const gone = new Set<string>();
  const found = async (key: string, paths: string[]) => (await svc.restore(paths, key, [], { lookupOnly: true })) === key;
  await mapLimit([...entriesOf(held, packs)], RESTORE_CONCURRENCY, async ([key, digests]) => {
    const paths = entryPaths(p, digests);
    if (!(await found(key, paths)) && !svc.gaveUp && !(await found(key, paths))) gone.add(key);
  });
  return svc.gaveUp ? new Set() : gone;
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
  /** The key the index was saved under: the primary key, or an alternate of this commit. */
  key?: string;
  /** Why nothing was saved, when nothing was. */
  reason?: string;
  entriesSaved: number;
  bytesSaved: number;
  newBlobs: number;
}

/**
 * Saves what this build exported, merged with what was restored. Uploads only blobs the service
 * does not hold, in at most MAX_BLOB_ENTRIES entries, then the index entry (see saveIndex). Saves
 * nothing when the build produced no new blob and no new record (a full hit).
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
  // The index must not promise blobs of entries the service evicted since the restore.
  const gone = await goneEntries(svc, p, held, (await readMeta(p.index))?.packs);
  if (gone.size) {
    core.info(
      `Layer cache: ${gone.size} entr${gone.size === 1 ? 'y' : 'ies'} of the restored index ${gone.size === 1 ? 'is' : 'are'} no longer in the cache service (evicted); what this build has of them is stored again.`,
    );
    held = withoutGone(held, gone);
  }
  const cmp = await compareExport(p, held);
  if (!cmp) return none('the build exported no cache');
  const { fresh, restored, restoredMeta, freshBlobs, restoredBlobs, newBlobDigests } = cmp;
  if (cmp.unchanged) return none(NOTHING_CHANGED);

  const located = await locateBlobs(p, new Set([...freshBlobs, ...restoredBlobs]));
  const present = new Set<string>([...located.keys(), ...Object.keys(held)]);
  const merged = mergeConfigs(fresh.config, restored?.config, present);
  const descriptors: Record<string, Descriptor> = { ...(restored?.descriptors ?? {}), ...fresh.descriptors };
  const image = descriptorsFor({ config: merged, descriptors }, merged);
  const source = (d: string) => located.get(d) ?? blobPath(p.layoutOut, d);
  const { large, small } = await sortBySize(merged, image, located, held, source);
  const up = await uploadBlobs(svc, p, large, held, source);
  const { entries, packs, stored } = up;
  let { entriesSaved, bytesSaved } = up;
  // Packs from earlier runs that still hold referenced blobs.
  for (const [key, digests] of Object.entries(restoredMeta?.packs ?? {})) {
    if (digests.some((d) => entries[d] === key)) packs[key] = digests;
  }

  // The index must only promise what is stored: drop results whose blobs did not make it.
  const available = new Set<string>([...small, ...stored]);
  const finalConfig = pruneToPresent(merged, available);
  // What the restored cache alone served this build: the index must not serve less.
  const floor = restored ? mergeConfigs(fresh.config, restored.config, restoredBlobs) : undefined;
  const draft = draftOf(descriptorsFor(image, finalConfig), entries, packs, new Map(small.map((d) => [d, source(d)])));
  const base = { scope, coldBuildMs: restoredMeta ? restoredMeta.coldBuildMs : buildMs, restoredKey: restoredMeta?.key, restored: restored?.config, floor };
  const r = await saveIndex(svc, p, keys, draft, base);
  if (!r.key) return { saved: false, reason: r.reason, entriesSaved, bytesSaved, newBlobs: newBlobDigests.length };
  entriesSaved++;
  bytesSaved += r.bytes;
  core.info(
    `Layer cache: saved ${r.key} (${r.config.records.length} records, ${recordsWithResults(r.config).size} with layers, ${entriesSaved} entries, ${bytesSaved} bytes).`,
  );
  return { saved: true, key: r.key, entriesSaved, bytesSaved, newBlobs: newBlobDigests.length };
}

/**
 * Where each blob's bytes are on this runner: the export, the index, the blob store, the layout
 * given to buildx (in that order). A blob found nowhere is left out.
 */
async function locateBlobs(p: CachePaths, digests: Set<string>): Promise<Map<string, string>> {
  const located = new Map<string, string>();
  for (const d of digests) {
    for (const f of [blobPath(p.layoutOut, d), blobPath(p.index, d), blobPath(p.store, d), blobPath(p.layoutIn, d)]) {
      if (await exists(f)) {
        located.set(d, f);
        break;
      }
    }
  }
  return located;
}

/**
 * The merged config's blobs by size: small ones found on this runner travel in the index entry;
 * large ones the service does not hold yet (and found here) go into blob entries.
 */
async function sortBySize(
  merged: CacheConfig,
  image: CacheImage,
  located: Map<string, string>,
  held: Record<string, string>,
  source: (d: string) => string,
): Promise<{ large: { digest: string; size: number }[]; small: string[] }> {
  const large: { digest: string; size: number }[] = [];
  const small: string[] = [];
  for (const d of blobsOf(merged)) {
    const size = image.descriptors[d]?.size ?? (await sizeOf(source(d)));
    if (size < SMALL_BLOB_BYTES) {
      if (located.has(d)) small.push(d);
    } else if (!held[d] && located.has(d)) large.push({ digest: d, size });
  }
  return { large, small };
}

/** What the blob entries of one save hold, and what uploading them cost. */
interface UploadedBlobs {
  /** Large blob digest -> entry key, for every blob the service holds (restored or stored now). */
  entries: Record<string, string>;
  /** Entry key -> digests, for the entries of this run that hold more than one blob. */
  packs: Record<string, string[]>;
  /** Large blobs the service holds now. */
  stored: Set<string>;
  entriesSaved: number;
  bytesSaved: number;
}

/** Packs the large new blobs into at most MAX_BLOB_ENTRIES entries and stores each (see storeEntry). */
async function uploadBlobs(
  svc: CacheService,
  p: CachePaths,
  large: { digest: string; size: number }[],
  held: Record<string, string>,
  source: (d: string) => string,
): Promise<UploadedBlobs> {
  const out: UploadedBlobs = { entries: { ...held }, packs: {}, stored: new Set(Object.keys(held)), entriesSaved: 0, bytesSaved: 0 };
  await fs.mkdir(path.join(p.store, 'blobs', 'sha256'), { recursive: true });
  // The entries side by side: one archives (tar, zstd) while another uploads.
  await mapLimit(planPacks(large, MAX_BLOB_ENTRIES), SAVE_CONCURRENCY, async (entry) => {
    for (const d of entry.digests) await linkBlob(source(d), p.store, d);
    const paths = entryPaths(p, entry.digests);
    const r = await storeEntry(svc, paths, entry.key);
    if (r === 'uploaded') {
      // Summed before it is added: the other entries add theirs meanwhile.
      let bytes = 0;
      for (const f of paths) bytes += await sizeOf(f);
      out.entriesSaved++;
      out.bytesSaved += bytes;
    }
    if (r === 'missing') return;
    for (const d of entry.digests) {
      out.stored.add(d);
      out.entries[d] = entry.key;
    }
    if (entry.digests.length > 1) out.packs[entry.key] = entry.digests;
  });
  return out;
}

/**
 * Stores one content-addressed entry: `held` when the service has it already, `uploaded` when this
 * run stored it, `taken` when its reservation was refused because another job holds or is creating
 * it (the same key means the same bytes, so it is not missing), else `missing`.
 */
async function storeEntry(svc: CacheService, paths: string[], key: string): Promise<'held' | 'uploaded' | 'taken' | 'missing'> {
  if ((await svc.restore(paths, key, [], { lookupOnly: true })) === key) return 'held';
  if (await svc.save(paths, key)) return 'uploaded';
  if (svc.wasTaken?.(key)) {
    core.info(`Layer cache: entry ${key} is held or being created by another job; the index refers to it.`);
    return 'taken';
  }
  // A save that failed while another job finished the same entry.
  if (!svc.gaveUp && (await svc.restore(paths, key, [], { lookupOnly: true })) === key) return 'held';
  return 'missing';
}

/** An index about to be saved: the cache image, where its blobs are, and its small blobs' files. */
interface IndexDraft {
  image: CacheImage;
  entries: Record<string, string>;
  packs: Record<string, string[]>;
  /** Small blob digest -> the file that holds it on this runner. */
  small: Map<string, string>;
}

/** Restricts entries, packs and small blobs to what the image's config references. */
function draftOf(image: CacheImage, entries: Record<string, string>, packs: Record<string, string[]>, small: Map<string, string>): IndexDraft {
  const used = blobsOf(image.config);
  const out: IndexDraft = { image, entries: {}, packs: {}, small: new Map() };
  for (const d of used) {
    if (entries[d]) out.entries[d] = entries[d];
    else if (small.has(d)) out.small.set(d, small.get(d)!);
  }
  for (const [key, digests] of Object.entries(packs)) if (digests.some((d) => out.entries[d] === key)) out.packs[key] = digests;
  return out;
}

/** Another job's index of this commit, downloaded: what it serves, and where its small blobs are. */
interface HeldIndex {
  key: string;
  meta: IndexMeta;
  dir: string;
  small: Set<string>;
}

/** Merges another job's index of this commit into the draft: it may hold blobs this run could not store. */
function absorb(draft: IndexDraft, other: HeldIndex): IndexDraft {
  const present = new Set<string>([...draft.small.keys(), ...Object.keys(draft.entries), ...other.small, ...Object.keys(other.meta.entries)]);
  const config = mergeConfigs(draft.image.config, other.meta.image.config, present);
  const image = descriptorsFor({ config, descriptors: { ...other.meta.image.descriptors, ...draft.image.descriptors } }, config);
  const small = new Map(draft.small);
  for (const d of other.small) if (!small.has(d)) small.set(d, blobPath(other.dir, d));
  return draftOf(image, { ...other.meta.entries, ...draft.entries }, { ...other.meta.packs, ...draft.packs }, small);
}

interface IndexBase {
  scope: string;
  coldBuildMs?: number;
  /** Key of the index this run restored, and its config as far as it is held. */
  restoredKey?: string;
  restored?: CacheConfig;
  /** What the restored cache served this build. */
  floor?: CacheConfig;
}

const INDEX_ATTEMPTS = 3;

/**
 * Saves the index entry so that the newest index of this commit (and so of the branch) is never
 * worse than one the service already holds: looks up this commit's newest index first; when another
 * job saved one, merges it in, saves nothing when it serves every step this one would, and else saves
 * under the next alternate key. A save refused because another job took the key meanwhile starts
 * over.
 */
async function saveIndex(
  svc: CacheService,
  p: CachePaths,
  keys: IndexKeys,
  first: IndexDraft,
  base: IndexBase,
): Promise<{ key?: string; reason?: string; bytes: number; config: CacheConfig }> {
  // The index entry must be archived from p.index (its path is part of the entry's version): move
  // the restored one aside first, since small blobs may be linked from it.
  const aside = `${p.index}.prev`;
  await fs.rm(aside, { recursive: true, force: true });
  if (await exists(p.index)) await fs.rename(p.index, aside);
  const moved = (f: string) => (f.startsWith(p.index + path.sep) ? aside + f.slice(p.index.length) : f);
  let draft: IndexDraft = { ...first, small: new Map([...first.small].map(([d, f]) => [d, moved(f)])) };
  const others: string[] = [];
  let reason = 'the cache service did not store the index entry';
  try {
    for (let attempt = 0; attempt < INDEX_ATTEMPTS && !svc.gaveUp; attempt++) {
      const lookup = indexLookup(keys);
      const heldKey = await svc.restore([p.index], lookup.key, [keys.primary], { lookupOnly: true });
      let held = heldKey === base.restoredKey ? base.restored : undefined;
      if (heldKey && heldKey !== base.restoredKey) {
        const other = await fetchIndex(svc, p, heldKey, `${p.index}.held-${others.length}`);
        if (!other) return { reason: `the index ${heldKey} this commit already has could not be read, so it is kept`, bytes: 0, config: draft.image.config };
        others.push(other.dir);
        draft = absorb(draft, other);
        held = other.meta.image.config;
      }
      const refused = indexVerdict(draft.image.config, base.floor, held);
      if (refused) return { reason: refused, bytes: 0, config: draft.image.config };
      const key = nextIndexKey(keys, heldKey);
      const bytes = await stageIndex(p, key, draft, base);
      if (await svc.save([p.index], key)) return { key, bytes, config: draft.image.config };
      reason = svc.gaveUp
        ? 'the cache service kept failing, so this run stopped using it'
        : svc.wasTaken?.(key)
          ? `another job saved ${key} meanwhile`
          : svc.lastFault
            ? `the cache service did not store the index entry: ${svc.lastFault}`
            : 'the cache service did not store the index entry';
      await fs.rm(p.index, { recursive: true, force: true });
    }
    return { reason, bytes: 0, config: draft.image.config };
  } finally {
    for (const d of [aside, ...others]) await fs.rm(d, { recursive: true, force: true });
  }
}

/** Downloads the index entry `key` into `dir`; undefined when it cannot be restored or read. */
async function fetchIndex(svc: CacheService, p: CachePaths, key: string, dir: string): Promise<HeldIndex | undefined> {
  await fs.rm(p.index, { recursive: true, force: true });
  await fs.mkdir(p.index, { recursive: true });
  const got = await svc.restore([p.index], key, [], {});
  const meta = got === key ? await readMeta(p.index) : undefined;
  if (!meta) {
    await fs.rm(p.index, { recursive: true, force: true });
    return undefined;
  }
  const { small } = await verifySmall(p, meta);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rename(p.index, dir);
  core.info(`Layer cache: another job saved ${key} for this commit; merged it into this run's index.`);
  return { key, meta, dir, small };
}

/** Writes the index entry's directory (p.index) for `key`; returns its size in bytes. */
async function stageIndex(p: CachePaths, key: string, draft: IndexDraft, base: IndexBase): Promise<number> {
  await fs.rm(p.index, { recursive: true, force: true });
  await fs.mkdir(p.index, { recursive: true });
  let bytes = 0;
  for (const [d, f] of draft.small) {
    await linkBlob(f, p.index, d);
    bytes += await sizeOf(blobPath(p.index, d));
  }
  const meta: IndexMeta = {
    format: INDEX_FORMAT,
    scope: base.scope,
    key,
    createdAt: new Date().toISOString(),
    image: draft.image,
    entries: draft.entries,
    packs: draft.packs,
    // A cache that started cold records how long that build took, for the "time saved" figure.
    coldBuildMs: base.coldBuildMs,
  };
  const file = path.join(p.index, 'meta.json');
  await fs.writeFile(file, JSON.stringify(meta));
  return bytes + (await sizeOf(file));
}
