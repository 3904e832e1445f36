// BuildKit's local cache export: an OCI layout whose index.json names one manifest list; the list
// holds one descriptor per cache layer and, last, the cache config (records and layers).
import { promises as fs, createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.buildkit.cacheconfig.v0';
const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ConfigLayer {
  blob: string;
  parent?: number;
  annotations?: unknown;
}

export interface RecordResult {
  layer: number;
  createdAt?: string;
}

export interface RecordInput {
  selector?: string;
  link: number;
}

export interface CacheRecord {
  digest: string;
  layers?: RecordResult[];
  chains?: { layers: RecordResult[]; createdAt?: string }[];
  inputs?: RecordInput[][];
}

export interface CacheConfig {
  layers: ConfigLayer[];
  records: CacheRecord[];
}

/** A cache as this action handles it: the config plus a descriptor for every blob it names. */
export interface CacheImage {
  config: CacheConfig;
  descriptors: Record<string, Descriptor>;
}

export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(dir, 'blobs', alg, hex);
}

/** Reads a local cache export; undefined when the directory holds none. */
export async function readLayout(dir: string): Promise<CacheImage | undefined> {
  let index: any;
  try {
    index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const top = index?.manifests?.[0];
  if (!top?.digest) return undefined;
  const list = JSON.parse(await fs.readFile(blobPath(dir, top.digest), 'utf8'));
  const manifests: Descriptor[] = list.manifests ?? [];
  const cfgDesc = manifests.find((m) => m.mediaType === CACHE_CONFIG_MEDIA_TYPE);
  if (!cfgDesc) throw new Error(`cache export in ${dir} has no cache config`);
  const config: CacheConfig = JSON.parse(await fs.readFile(blobPath(dir, cfgDesc.digest), 'utf8'));
  const descriptors: Record<string, Descriptor> = {};
  for (const m of manifests) if (m.mediaType !== CACHE_CONFIG_MEDIA_TYPE) descriptors[m.digest] = m;
  return { config: { layers: config.layers ?? [], records: config.records ?? [] }, descriptors };
}

export function digestOf(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * Writes index.json, the manifest list and the config of `image` into `dir`. Layer blobs must be
 * placed there by the caller (see linkBlob).
 */
/** The bytes that describe a cache image: its config blob and the manifest list naming it. */
export interface RenderedCacheImage {
  config: Buffer;
  configDigest: string;
  list: Buffer;
  listDigest: string;
}

export function renderCacheImage(image: CacheImage): RenderedCacheImage {
  const config = Buffer.from(JSON.stringify(image.config));
  const configDigest = digestOf(config);
  const manifests: Descriptor[] = image.config.layers.map((l) => {
    const d = image.descriptors[l.blob];
    if (!d) throw new Error(`no descriptor for cache blob ${l.blob}`);
    return d;
  });
  manifests.push({ mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length });
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests }));
  return { config, configDigest, list, listDigest: digestOf(list) };
}

/** Writes the oci-layout marker and an index.json naming `listDigest` as `latest`. */
export async function writeLayoutIndex(dir: string, listDigest: string, listSize: number): Promise<void> {
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: INDEX_MEDIA_TYPE, digest: listDigest, size: listSize, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  };
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

/**
 * Writes index.json, the manifest list and the config of `image` into `dir`. Layer blobs must be
 * placed there by the caller (see linkBlob).
 */
export async function writeLayoutMeta(dir: string, image: CacheImage): Promise<void> {
  await fs.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const r = renderCacheImage(image);
  await fs.writeFile(blobPath(dir, r.configDigest), r.config);
  await fs.writeFile(blobPath(dir, r.listDigest), r.list);
  await writeLayoutIndex(dir, r.listDigest, r.list.length);
}

/** Places a blob into a layout: a hard link when possible, else a copy. */
export async function linkBlob(from: string, dir: string, digest: string): Promise<void> {
  const to = blobPath(dir, digest);
  if (path.resolve(from) === path.resolve(to)) return; // already in place (removing it would lose it)
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.rm(to, { force: true });
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
  }
}

/** sha256 of a file, streamed. */
export async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return 'sha256:' + h.digest('hex');
}

/** True when `file` exists and its content has `digest`. */
export async function verifyBlob(file: string, digest: string): Promise<boolean> {
  try {
    return (await fileDigest(file)) === digest;
  } catch {
    return false;
  }
}
