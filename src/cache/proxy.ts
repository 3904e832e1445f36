// A small OCI registry on loopback that stands between BuildKit and the Actions cache service for
// the duration of the build. BuildKit imports the cache from it (`--cache-from type=registry`) and
// fetches only the blobs it really needs: a blob held in the cache service is downloaded when
// BuildKit asks for it, not before, so a fully cached build downloads almost nothing. BuildKit
// exports to it as well (`--cache-to type=registry`); it skips blobs the service already holds and
// uploads only new ones, which land on disk as an OCI layout for the post step to save.
//
// Every request must carry this run's credential (HTTP basic auth, handed to BuildKit through the
// job's private Docker config), so no other process on the runner can read or write the cache
// through it. The export may come in either cache form (image index or image manifest); the
// offered cache is served in the form the caller chose for the builder's BuildKit.
import * as http from 'node:http';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Hash } from 'node:crypto';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { CacheForm, CacheImage, RenderedCacheImage } from './layout.js';
import { CacheFormatError, blobPath, exists, mediaTypeOf, parseCacheDocument, renderCacheImage, writeLayoutIndex } from './layout.js';

export const PROXY_REPO = 'obc/cache';
const IMPORT_TAG = 'in';
const EXPORT_TAG = 'out';
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
/** A manifest larger than this is not a cache document. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

export interface ProxySource {
  /** The cache to offer for import; undefined offers none (a cold build still exports). */
  image?: CacheImage;
  /** A path holding the blob's bytes on this runner already, if any. */
  localPath(digest: string): Promise<string | undefined>;
  /** Downloads a blob that only the cache service holds; the local path, or undefined on failure. */
  fetch(digest: string): Promise<string | undefined>;
  /** True when the cache service holds the blob, so the export need not upload it. */
  held(digest: string): boolean;
}

export interface ProxyCredentials {
  username: string;
  password: string;
}

export interface ProxyOptions {
  /** The form the offered cache is served in (see cacheFormFor). */
  form: CacheForm;
  /** The credential every request must carry; a random one when not given. */
  credentials?: ProxyCredentials;
}

export interface ProxyStats {
  /** Blobs fetched from the cache service for BuildKit. */
  fetches: number;
  fetchFailures: string[];
  /** Blobs BuildKit asked for (GET) that the cache does not hold (the first 1000). */
  notHeld: string[];
  uploads: number;
  bytesUploaded: number;
  /** Requests refused for a missing or wrong credential. */
  unauthorized: number;
  /** The form of the export BuildKit wrote, once it wrote one. */
  exportForm?: CacheForm;
  /** The digest of that export. */
  exportDigest?: string;
  /** Writes of the export tag refused because this build had written it already. */
  rewritesRefused: number;
}

export interface CacheProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  /** The credential BuildKit must present (give it to buildx through the Docker config). */
  credentials: ProxyCredentials;
  /** `type=registry,...` spec for --cache-from, when there is a cache to import. */
  cacheFrom?: string;
  /** `type=registry,...` spec for --cache-to. */
  cacheTo: string;
  /** Where the export lands: an OCI layout (index.json names the exported document). */
  exportDir: string;
  stats: ProxyStats;
  /** Offers another cache for import from now on (after a failed fetch), or none. */
  offer(image: CacheImage | undefined): void;
  /** Accepts one more export (for a build that runs again); the earlier one is forgotten. */
  rearmExport(): void;
  close(): Promise<void>;
}

/** A blob upload in progress: the file it goes to, hashed as it arrives. */
interface Upload {
  file: string;
  hash: Hash;
  size: number;
}

type Res = http.ServerResponse;
type Req = http.IncomingMessage;

function send(res: Res, status: number, headers: Record<string, string | number> = {}, body?: Buffer | string): void {
  res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
  res.end(body);
}

function sendError(res: Res, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  send(res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify({ errors: [{ code, message }] }));
}

const notFound = (res: Res, code = 'BLOB_UNKNOWN') => sendError(res, 404, code, 'not found');

/** Sends bytes held in memory, or only their headers for HEAD. */
function sendBytes(req: Req, res: Res, data: Buffer, digest: string, type: string): void {
  const headers = { 'Content-Type': type, 'Content-Length': data.length, 'Docker-Content-Digest': digest };
  if (req.method === 'HEAD') send(res, 200, headers);
  else send(res, 200, headers, data);
}

/** The whole request body, refused past `limit` bytes (manifests are small). */
function readAll(req: Req, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req
      .on('data', (c: Buffer) => {
        size += c.length;
        if (size <= limit) chunks.push(c);
      })
      .on('end', () => resolve(size <= limit ? Buffer.concat(chunks) : undefined))
      .on('error', reject);
  });
}

/** Appends a request body to an upload, hashing it on the way: no second read to verify it. */
function append(req: Req, up: Upload): Promise<void> {
  return new Promise((resolve, reject) => {
    req.on('data', (c: Buffer) => {
      up.hash.update(c);
      up.size += c.length;
    });
    req
      .pipe(createWriteStream(up.file, { flags: 'a' }))
      .on('finish', resolve)
      .on('error', reject);
  });
}

/** True when the request carries exactly `expected` as its basic credential. */
export function authorized(header: string | undefined, expected: ProxyCredentials): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1], 'base64');
  const want = Buffer.from(`${expected.username}:${expected.password}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function randomCredentials(): ProxyCredentials {
  return { username: 'obc', password: randomBytes(24).toString('base64url') };
}

/** What the handlers of one proxy share. */
interface ProxyState {
  src: ProxySource;
  exportDir: string;
  uploadsDir: string;
  credentials: ProxyCredentials;
  stats: ProxyStats;
  /** The cache offered for import, rendered in the form asked for. */
  offered?: RenderedCacheImage;
  /** Blob uploads in progress, by id. */
  uploads: Map<string, Upload>;
}

/** Sends a file (a blob), or only its headers for HEAD; counts what is served. */
async function sendFile(px: ProxyState, req: Req, res: Res, file: string, digest: string): Promise<void> {
  const size = (await fs.stat(file)).size;
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'Docker-Content-Digest': digest };
  if (req.method === 'HEAD') return send(res, 200, headers);
  res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
  await new Promise<void>((resolve) => {
    createReadStream(file)
      .on('error', () => (res.destroy(), resolve()))
      .pipe(res)
      .on('finish', resolve)
      .on('close', resolve);
  });
}

/** A manifest put: only this build's export, under its tag (or by digest); nothing else. */
async function putManifest(px: ProxyState, req: Req, res: Res, ref: string): Promise<void> {
  const { stats, exportDir } = px;
  if (ref !== EXPORT_TAG && !DIGEST_RE.test(ref)) return sendError(res, 403, 'DENIED', 'only the export tag may be written');
  const data = await readAll(req, MAX_MANIFEST_BYTES);
  if (!data) return sendError(res, 400, 'MANIFEST_INVALID', 'manifest too large');
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  if (DIGEST_RE.test(ref) && ref !== digest) return sendError(res, 400, 'DIGEST_INVALID', 'digest mismatch');
  // The export tag is written once per build: a second, different document is refused.
  if (ref === EXPORT_TAG && stats.exportDigest && stats.exportDigest !== digest) {
    stats.rewritesRefused++;
    return sendError(res, 409, 'DENIED', 'the export was written already');
  }
  let form: CacheForm;
  try {
    form = parseCacheDocument(data, 'the manifest BuildKit exported').form;
  } catch (err) {
    if (err instanceof CacheFormatError) return sendError(res, 400, 'MANIFEST_INVALID', err.message);
    throw err;
  }
  await fs.writeFile(blobPath(exportDir, digest), data);
  if (ref === EXPORT_TAG) {
    await writeLayoutIndex(exportDir, digest, data.length, mediaTypeOf(form));
    stats.exportForm = form;
    stats.exportDigest = digest;
  }
  return send(res, 201, { Location: `/v2/${PROXY_REPO}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
}

/** Manifests: the offered cache under its tag or digest; the export is stored when put. */
async function manifests(px: ProxyState, req: Req, res: Res, ref: string): Promise<void> {
  if (req.method === 'PUT') return putManifest(px, req, res, ref);
  const offered = px.offered;
  if (offered && (ref === IMPORT_TAG || ref === offered.listDigest)) return sendBytes(req, res, offered.list, offered.listDigest, offered.mediaType);
  return notFound(res, 'MANIFEST_UNKNOWN');
}

/** Blob uploads (the export): monolithic (POST with a digest) or chunked (POST, PATCH..., PUT). */
async function blobUploads(px: ProxyState, req: Req, res: Res, url: URL, id: string): Promise<void> {
  const accepted = (uuid: string, size: number) =>
    send(res, 202, {
      Location: `/v2/${PROXY_REPO}/blobs/uploads/${uuid}`,
      'Docker-Upload-UUID': uuid,
      Range: `0-${Math.max(size - 1, 0)}`,
      'Content-Length': 0,
    });
  if (req.method === 'POST' && !id) {
    const uuid = randomBytes(12).toString('hex');
    const up: Upload = { file: path.join(px.uploadsDir, uuid), hash: createHash('sha256'), size: 0 };
    await fs.writeFile(up.file, '');
    const digest = url.searchParams.get('digest');
    if (digest) {
      await append(req, up);
      return finishUpload(px, res, up, digest);
    }
    req.resume();
    px.uploads.set(uuid, up);
    return accepted(uuid, 0);
  }
  const up = px.uploads.get(id);
  if (!up) return notFound(res, 'BLOB_UPLOAD_UNKNOWN');
  if (req.method === 'PATCH') {
    await append(req, up);
    return accepted(id, up.size);
  }
  if (req.method === 'PUT') {
    await append(req, up);
    px.uploads.delete(id);
    return finishUpload(px, res, up, url.searchParams.get('digest') ?? '');
  }
  return send(res, 405);
}

/** Keeps an upload whose bytes match its digest, as a blob of the export. */
async function finishUpload(px: ProxyState, res: Res, up: Upload, digest: string): Promise<void> {
  if (!DIGEST_RE.test(digest) || 'sha256:' + up.hash.digest('hex') !== digest) {
    await fs.rm(up.file, { force: true });
    return sendError(res, 400, 'DIGEST_INVALID', 'digest mismatch');
  }
  await fs.rename(up.file, blobPath(px.exportDir, digest));
  px.stats.uploads++;
  px.stats.bytesUploaded += up.size;
  send(res, 201, { Location: `/v2/${PROXY_REPO}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
}

/** Blobs: uploaded this run, the offered config, on disk already, or fetched on demand. */
async function blobs(px: ProxyState, req: Req, res: Res, digest: string): Promise<void> {
  const { src, offered, stats } = px;
  if (!DIGEST_RE.test(digest)) return notFound(res);
  const exported = blobPath(px.exportDir, digest);
  if (await exists(exported)) return sendFile(px, req, res, exported, digest);
  if (offered && digest === offered.configDigest) return sendBytes(req, res, offered.config, digest, 'application/octet-stream');
  const local = await src.localPath(digest);
  if (local) return sendFile(px, req, res, local, digest);
  if (!src.held(digest)) {
    if (req.method === 'GET' && stats.notHeld.length < 1000) stats.notHeld.push(digest);
    return notFound(res);
  }
  const size = src.image?.descriptors[digest]?.size;
  if (req.method === 'HEAD' && size !== undefined) {
    return send(res, 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'Docker-Content-Digest': digest });
  }
  stats.fetches++;
  const fetched = await src.fetch(digest);
  if (!fetched) {
    stats.fetchFailures.push(digest);
    return notFound(res);
  }
  return sendFile(px, req, res, fetched, digest);
}

/** One request: the credential first, then the registry API routes this proxy serves. */
async function handle(px: ProxyState, req: Req, res: Res): Promise<void> {
  if (process.env.OBC_PROXY_TRACE) process.stderr.write(`proxy: ${req.method} ${req.url}\n`);
  if (!authorized(req.headers.authorization, px.credentials)) {
    px.stats.unauthorized++;
    req.resume();
    return sendError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="oneshot-build layer cache"' });
  }
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  if (p === '/v2/' || p === '/v2') return send(res, 200, { 'Content-Type': 'application/json' }, '{}');
  const prefix = `/v2/${PROXY_REPO}/`;
  if (!p.startsWith(prefix)) return notFound(res, 'NAME_UNKNOWN');
  const rest = p.slice(prefix.length);
  if (rest.startsWith('manifests/')) return manifests(px, req, res, decodeURIComponent(rest.slice('manifests/'.length)));
  if (rest.startsWith('blobs/uploads')) return blobUploads(px, req, res, url, rest.slice('blobs/uploads'.length).replace(/^\//, ''));
  if (rest.startsWith('blobs/')) return blobs(px, req, res, decodeURIComponent(rest.slice('blobs/'.length)));
  return notFound(res, 'UNSUPPORTED');
}

export async function startCacheProxy(src: ProxySource, exportDir: string, opts: ProxyOptions): Promise<CacheProxy> {
  await fs.rm(exportDir, { recursive: true, force: true });
  await fs.mkdir(path.join(exportDir, 'blobs', 'sha256'), { recursive: true });
  const uploadsDir = path.join(exportDir, '.uploads');
  await fs.mkdir(uploadsDir, { recursive: true });
  const render = (image: CacheImage | undefined) => (image ? renderCacheImage(image, opts.form) : undefined);
  const px: ProxyState = {
    src,
    exportDir,
    uploadsDir,
    credentials: opts.credentials ?? randomCredentials(),
    stats: { fetches: 0, fetchFailures: [], notHeld: [], uploads: 0, bytesUploaded: 0, unauthorized: 0, rewritesRefused: 0 },
    offered: render(src.image),
    uploads: new Map(),
  };
  const server = http.createServer((req, res) => {
    handle(px, req, res).catch(() => {
      if (!res.headersSent) send(res, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    credentials: px.credentials,
    cacheFrom: px.offered ? `type=registry,ref=${host}/${PROXY_REPO}:${IMPORT_TAG}` : undefined,
    cacheTo: `type=registry,ref=${host}/${PROXY_REPO}:${EXPORT_TAG},mode=max,ignore-error=true`,
    exportDir,
    stats: px.stats,
    offer: (image) => {
      px.offered = render(image);
    },
    rearmExport: () => {
      px.stats.exportDigest = undefined;
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      });
      await fs.rm(uploadsDir, { recursive: true, force: true });
    },
  };
}
