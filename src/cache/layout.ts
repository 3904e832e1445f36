// BuildKit's cache export, in either of its two forms:
// - the image index form (BuildKit before v0.21, or `image-manifest=false`): an OCI image index (or a
//   Docker manifest list) with one descriptor per cache layer and, among them, the cache config;
// - the image manifest form (BuildKit v0.21 and later by default, `image-manifest=true`): one OCI
//   image manifest whose config blob is the cache config and whose layers are the cache layers.
// A local export (`type=local`) is an OCI layout whose index.json names one of these; the loopback
// registry receives the same document as a manifest PUT. Both forms carry the same facts (the
// config and a descriptor per blob), which is all this action keeps.
import { promises as fs } from 'node:fs';
import { fileDigest, fileDigests } from '../files.js';
import { createHash } from 'node:crypto';
import * as path from 'node:path';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.buildkit.cacheconfig.v0';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/** `index`: an image index naming the layers and the config; `manifest`: one image manifest. */
export type CacheForm = 'index' | 'manifest';
export const CACHE_FORMS: readonly CacheForm[] = ['index', 'manifest'];

/** The media type of the top document of each form, as this action writes it. */
export function mediaTypeOf(form: CacheForm): string {
  return form === 'index' ? OCI_INDEX_MEDIA_TYPE : OCI_MANIFEST_MEDIA_TYPE;
}

/** A cache export this action cannot read; the message says what was found instead. */
export class CacheFormatError extends Error {}

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

/** The parts of a cache document: its form, the config's descriptor and the layer descriptors. */
export interface ParsedCacheDocument {
  form: CacheForm;
  config: Descriptor;
  layers: Descriptor[];
}

function isDescriptor(d: any): d is Descriptor {
  return !!d && typeof d.digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(d.digest) && typeof d.mediaType === 'string';
}

/**
 * Reads a cache document of either form (the bytes of a manifest or index). `where` names it in the
 * error, which says what was found: a document of neither form is an error of the export's format.
 */
export function parseCacheDocument(data: Buffer | string, where: string): ParsedCacheDocument {
  let doc: any;
  try {
    doc = JSON.parse(String(data));
  } catch {
    throw new CacheFormatError(`${where} is not JSON`);
  }
  const mt = typeof doc?.mediaType === 'string' ? doc.mediaType : '';
  if (Array.isArray(doc?.manifests) && (mt === '' || mt === OCI_INDEX_MEDIA_TYPE || mt === DOCKER_LIST_MEDIA_TYPE)) {
    const all = (doc.manifests as unknown[]).filter(isDescriptor);
    const config = all.find((m) => m.mediaType === CACHE_CONFIG_MEDIA_TYPE);
    if (!config) throw new CacheFormatError(`${where} is an image index without a cache config (${all.length} entries; not a BuildKit cache export)`);
    return { form: 'index', config, layers: all.filter((m) => m.mediaType !== CACHE_CONFIG_MEDIA_TYPE) };
  }
  if (doc?.config && (mt === '' || mt === OCI_MANIFEST_MEDIA_TYPE || mt === DOCKER_MANIFEST_MEDIA_TYPE)) {
    if (!isDescriptor(doc.config) || doc.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
      throw new CacheFormatError(`${where} is an image manifest whose config is ${String(doc.config?.mediaType ?? 'missing')}, not a BuildKit cache config`);
    }
    const layers = Array.isArray(doc.layers) ? (doc.layers as unknown[]).filter(isDescriptor) : [];
    return { form: 'manifest', config: doc.config, layers };
  }
  throw new CacheFormatError(`${where} is neither an image index nor an image manifest (media type ${mt || 'none'})`);
}

/** A cache read from a local export, with the form BuildKit wrote it in. */
export interface ExportedCache extends CacheImage {
  form: CacheForm;
}

/**
 * Reads a local cache export (an OCI layout); undefined when the directory holds none. A layout
 * that is there but unreadable throws a CacheFormatError naming what is wrong.
 */
/** The digest of the document a layout's index.json names (the `latest` one, else the first). */
export async function layoutTop(dir: string): Promise<string | undefined> {
  try {
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
    const entries: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
    const top = entries.find((m) => m?.annotations?.['org.opencontainers.image.ref.name'] === 'latest') ?? entries[0];
    return typeof top?.digest === 'string' ? top.digest : undefined;
  } catch {
    return undefined;
  }
}

export async function readLayout(dir: string): Promise<ExportedCache | undefined> {
  const top = await layoutTop(dir);
  if (!top) return undefined;
  const data = await fs.readFile(blobPath(dir, top)).catch(() => {
    throw new CacheFormatError(`the cache export in ${dir} names ${top.slice(0, 19)}, which is not in it`);
  });
  const doc = parseCacheDocument(data, `the cache export in ${dir}`);
  let config: CacheConfig;
  try {
    config = JSON.parse(await fs.readFile(blobPath(dir, doc.config.digest), 'utf8'));
  } catch {
    throw new CacheFormatError(`the cache config ${doc.config.digest.slice(0, 19)} of the export in ${dir} is missing or not JSON`);
  }
  const descriptors: Record<string, Descriptor> = {};
  for (const m of doc.layers) descriptors[m.digest] = m;
  return { form: doc.form, config: { layers: config.layers ?? [], records: config.records ?? [] }, descriptors };
}

export function digestOf(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** The bytes that describe a cache image in one form: its config blob and the top document. */
export interface RenderedCacheImage {
  form: CacheForm;
  mediaType: string;
  config: Buffer;
  configDigest: string;
  /** The image index or image manifest. */
  list: Buffer;
  listDigest: string;
}

export function renderCacheImage(image: CacheImage, form: CacheForm = 'index'): RenderedCacheImage {
  const config = Buffer.from(JSON.stringify(image.config));
  const configDigest = digestOf(config);
  const layers: Descriptor[] = image.config.layers.map((l) => {
    const d = image.descriptors[l.blob];
    if (!d) throw new Error(`no descriptor for cache blob ${l.blob}`);
    return d;
  });
  const configDesc: Descriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length };
  const mediaType = mediaTypeOf(form);
  const doc =
    form === 'index' ? { schemaVersion: 2, mediaType, manifests: [...layers, configDesc] } : { schemaVersion: 2, mediaType, config: configDesc, layers };
  const list = Buffer.from(JSON.stringify(doc));
  return { form, mediaType, config, configDigest, list, listDigest: digestOf(list) };
}

/** Writes the oci-layout marker and an index.json naming the document `listDigest` as `latest`. */
export async function writeLayoutIndex(dir: string, listDigest: string, listSize: number, mediaType: string = OCI_INDEX_MEDIA_TYPE): Promise<void> {
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: [{ mediaType, digest: listDigest, size: listSize, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  };
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

/**
 * Writes index.json, the top document (in `form`) and the config of `image` into `dir`. Layer blobs
 * must be placed there by the caller (see linkBlob).
 */
export async function writeLayoutMeta(dir: string, image: CacheImage, form: CacheForm = 'index'): Promise<void> {
  await fs.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const r = renderCacheImage(image, form);
  await fs.writeFile(blobPath(dir, r.configDigest), r.config);
  await fs.writeFile(blobPath(dir, r.listDigest), r.list);
  await writeLayoutIndex(dir, r.listDigest, r.list.length, r.mediaType);
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

/** True when `file` exists (and this process may see it). */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The size of `file` in bytes; undefined when it cannot be read. */
export async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return undefined;
  }
}

/** True when `file` exists and its content has `digest`. */
export async function verifyBlob(file: string, digest: string): Promise<boolean> {
  try {
    return (await fileDigest(file)) === digest;
  } catch {
    return false;
  }
}

/** For each blob (file, digest): whether the file is there and matches its digest. Hashed side by side. */
export async function verifyBlobs(blobs: { file: string; digest: string }[]): Promise<boolean[]> {
  const got = await fileDigests(blobs.map((b) => b.file));
  return blobs.map((b, i) => got[i] === b.digest);
}

/** The --cache-from value that reads a local cache layout directory. */
export function localCacheFrom(dir: string): string {
  return `type=local,src=${dir}`;
}
