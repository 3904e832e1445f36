// Pure operations on BuildKit cache configs: which blobs a config needs, keeping only what is
// present, and merging a fresh export with the restored cache so that no run erodes the cache.
import type { CacheConfig, CacheImage, CacheRecord, ConfigLayer, RecordResult } from './layout.js';

/** Every blob digest the config's layers name. */
export function blobsOf(config: CacheConfig): Set<string> {
  return new Set(config.layers.map((l) => l.blob));
}

/** The top layer index of each of a record's results (plain and chained). */
function resultLayers(r: CacheRecord): number[] {
  return [...(r.layers ?? []), ...(r.chains ?? []).flatMap((ch) => ch.layers)].map((res) => res.layer ?? 0);
}

/** Digests of the blobs that some record's result needs (a result needs its whole layer chain). */
export function referencedBlobs(config: CacheConfig): Set<string> {
  const out = new Set<string>();
  const visit = (i: number) => {
    for (let n = i, hops = 0; n >= 0 && n < config.layers.length && hops <= config.layers.length; n = parentOf(config, n), hops++) {
      out.add(config.layers[n].blob);
    }
  };
  for (const r of config.records) resultLayers(r).forEach(visit);
  return out;
}

/**
 * A layer's parent index. BuildKit writes the config from Go with `omitempty`, so a missing
 * `parent` means 0; -1 means no parent.
 */
export function parentOf(config: CacheConfig, i: number): number {
  return config.layers[i]?.parent ?? 0;
}

/**
 * Builds a config from records and a layer table given by identity, renumbering layers so that
 * only those some result needs are kept, in a stable order.
 */
class ConfigBuilder {
  private readonly layerIndex = new Map<string, number>();
  readonly layers: ConfigLayer[] = [];

  /** Adds layer `i` of `from` (and its parent chain); returns its index here. */
  addLayer(from: CacheConfig, i: number): number {
    const key = layerKey(from, i);
    const have = this.layerIndex.get(key);
    if (have !== undefined) return have;
    const src = from.layers[i];
    const p = parentOf(from, i);
    const layer: ConfigLayer = { blob: src.blob, parent: p >= 0 ? this.addLayer(from, p) : -1 };
    if (src.annotations !== undefined) layer.annotations = src.annotations;
    this.layers.push(layer);
    const idx = this.layers.length - 1;
    this.layerIndex.set(key, idx);
    return idx;
  }
}

/** A layer's identity: its blob and its whole parent chain. */
function layerKey(config: CacheConfig, i: number): string {
  const parts: string[] = [];
  for (let n = i; n >= 0 && parts.length <= config.layers.length; n = parentOf(config, n)) parts.push(config.layers[n]?.blob ?? '?');
  return parts.join('<');
}

/** True when every blob of layer `i`'s chain is present (and the chain is well formed). */
function chainOk(config: CacheConfig, i: number, present: Set<string>): boolean {
  let hops = 0;
  for (let n = i; n >= 0; n = parentOf(config, n)) {
    const l = config.layers[n];
    if (!l || !present.has(l.blob) || ++hops > config.layers.length) return false;
  }
  return true;
}

/**
 * Pairs records of `restored` with records of `fresh` that stand for the same cache key: the same
 * digest, and for every input position an edge with the same selector to a matching parent. A
 * record whose inputs changed (a COPY of changed files keeps its digest but links to a new
 * content record) does not match, so its old results are not carried over.
 */
function matcher(restored: CacheConfig, fresh: CacheConfig): (ri: number, fi: number) => boolean {
  const memo = new Map<string, boolean>();
  const match = (ri: number, fi: number): boolean => {
    const key = `${ri},${fi}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false); // a cycle never matches
    const a = restored.records[ri];
    const f = fresh.records[fi];
    let ok = !!a && !!f && a.digest === f.digest && (a.inputs?.length ?? 0) === (f.inputs?.length ?? 0);
    for (let p = 0; ok && p < (f.inputs?.length ?? 0); p++) {
      const fa = a.inputs![p] ?? [];
      const ff = f.inputs![p] ?? [];
      ok =
        (fa.length === 0 && ff.length === 0) ||
        fa.some((ea) => ff.some((ef) => (ea.selector ?? '') === (ef.selector ?? '') && match(ea.link ?? 0, ef.link ?? 0)));
    }
    memo.set(key, ok);
    return ok;
  };
  return match;
}

/**
 * Merges `fresh` (this build's export) with `restored` (what the cache held before it). The fresh
 * export's records and links are kept as they are: they are exactly the cache keys this build
 * walked through. Each fresh record also gets the results of the restored record that matches it,
 * which a fully cached build leaves out of its export (BuildKit exports no result it did not
 * load). Restored records this build no longer reaches (old versions of changed steps) are dropped,
 * so the cache does not grow without bound. Results whose layer chain is not wholly in `present`
 * are dropped. Layers are renumbered, parents first.
 */
export function mergeConfigs(fresh: CacheConfig, restored: CacheConfig | undefined, present: Set<string>): CacheConfig {
  const builder = new ConfigBuilder();
  const byDigest = new Map<string, number[]>();
  restored?.records.forEach((r, i) => byDigest.set(r.digest, [...(byDigest.get(r.digest) ?? []), i]));
  const match = restored ? matcher(restored, fresh) : () => false;

  const records: CacheRecord[] = fresh.records.map((record, fi) => {
    const sources: [CacheConfig, CacheRecord][] = [[fresh, record]];
    if (restored) for (const ri of byDigest.get(record.digest) ?? []) if (match(ri, fi)) sources.push([restored, restored.records[ri]]);
    const results: RecordResult[] = [];
    const seen = new Set<string>();
    for (const [config, r] of sources) {
      for (const res of r.layers ?? []) {
        const li = res.layer ?? 0;
        if (!chainOk(config, li, present)) continue;
        const key = layerKey(config, li);
        if (seen.has(key)) continue;
        seen.add(key);
        const out: RecordResult = { layer: builder.addLayer(config, li) };
        if (res.createdAt) out.createdAt = res.createdAt;
        results.push(out);
      }
    }
    const rec: CacheRecord = { digest: record.digest };
    if (results.length) rec.layers = results;
    if (record.inputs) rec.inputs = record.inputs.map((g) => g.map((e) => ({ ...e, link: e.link ?? 0 })));
    return rec;
  });
  return { layers: builder.layers, records };
}

/** Keeps only what `present` can serve: drops results whose layers are missing. */
export function pruneToPresent(config: CacheConfig, present: Set<string>): CacheConfig {
  return mergeConfigs(config, undefined, present);
}

/** Restricts a descriptor table to the blobs a config names. */
export function descriptorsFor(image: CacheImage, config: CacheConfig): CacheImage {
  const descriptors: CacheImage['descriptors'] = {};
  for (const l of config.layers) {
    const d = image.descriptors[l.blob];
    if (d) descriptors[l.blob] = d;
  }
  return { config, descriptors };
}

/** Record digests that have at least one result. */
export function recordsWithResults(config: CacheConfig): Set<string> {
  return new Set(config.records.filter((r) => (r.layers?.length ?? 0) > 0).map((r) => r.digest));
}

/**
 * Why an index must not be saved, or undefined when it may: never one that serves no step, one
 * that serves fewer steps than the restored cache served this build (`floor`), or one that serves
 * no step the index of this commit the service already holds (`held`) does not.
 */
export function indexVerdict(candidate: CacheConfig, floor: CacheConfig | undefined, held: CacheConfig | undefined): string | undefined {
  const mine = recordsWithResults(candidate);
  if (mine.size === 0) return 'the index would hold no usable layer';
  const min = floor ? recordsWithResults(floor).size : 0;
  if (mine.size < min) return `the index would serve fewer steps (${mine.size}) than the one restored (${min})`;
  if (held) {
    const theirs = recordsWithResults(held);
    if ([...mine].every((d) => theirs.has(d))) return 'the service already holds an index of this commit that serves every step this one does';
  }
  return undefined;
}

/**
 * Blobs of the base images the config's steps build on: the layers that no step made. With
 * `mode=max` every step's layer is the top of some result of a record with inputs (a step), so a
 * layer that is the top of none came from a `FROM` image, which the builder can pull again from its
 * registry when the cache service has lost it.
 */
export function baseLayerBlobs(config: CacheConfig): Set<string> {
  // A blob some step made is not a base layer, even where it also sits below another chain.
  const made = new Set(
    config.records
      .filter((r) => (r.inputs?.length ?? 0) > 0)
      .flatMap(resultLayers)
      .map((i) => config.layers[i]?.blob),
  );
  return new Set(config.layers.map((l) => l.blob).filter((b) => !made.has(b)));
}
