// A small OCI registry on loopback that stands between BuildKit and the Actions cache service for
// the duration of the build. BuildKit imports the cache from it (`--cache-from type=registry`) and
// fetches only the blobs it really needs: a blob held in the cache service is downloaded when
// BuildKit asks for it, not before, so a fully cached build downloads almost nothing. BuildKit
// exports to it as well (`--cache-to type=registry`); it skips blobs the service already holds and
// uploads only new ones, which land on disk as an OCI layout for the post step to save.
import * as http from 'node:http';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { CacheImage } from './layout.js';
import { blobPath, renderCacheImage, writeLayoutIndex } from './layout.js';

export const PROXY_REPO = 'obc/cache';
const IMPORT_TAG = 'in';
const EXPORT_TAG = 'out';
const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

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

export interface ProxyStats {
  blobsServed: number;
  bytesServed: number;
  fetches: number;
  fetchFailures: string[];
  uploads: number;
  bytesUploaded: number;
}

export interface CacheProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `type=registry,...` spec for --cache-from, when there is a cache to import. */
  cacheFrom?: string;
  /** `type=registry,...` spec for --cache-to. */
  cacheTo: string;
  /** Where the export lands: an OCI layout (index.json names the exported manifest list). */
  exportDir: string;
  stats: ProxyStats;
  /** Offers another cache for import from now on (after a failed fetch), or none. */
  offer(image: CacheImage | undefined): void;
  close(): Promise<void>;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** A blob upload in progress: the file it goes to, hashed as it arrives. */
interface Upload {
  file: string;
  hash: Hash;
  size: number;
}

export async function startCacheProxy(src: ProxySource, exportDir: string): Promise<CacheProxy> {
  await fs.rm(exportDir, { recursive: true, force: true });
  await fs.mkdir(path.join(exportDir, 'blobs', 'sha256'), { recursive: true });
  const uploadsDir = path.join(exportDir, '.uploads');
  await fs.mkdir(uploadsDir, { recursive: true });
  let offered = src.image ? renderCacheImage(src.image) : undefined;
  const stats: ProxyStats = { blobsServed: 0, bytesServed: 0, fetches: 0, fetchFailures: [], uploads: 0, bytesUploaded: 0 };
  const uploads = new Map<string, Upload>();

  const send = (res: http.ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: Buffer | string) => {
    res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    res.end(body);
  };
  const notFound = (res: http.ServerResponse, code = 'BLOB_UNKNOWN') =>
    send(res, 404, { 'Content-Type': 'application/json' }, JSON.stringify({ errors: [{ code, message: 'not found' }] }));

  const sendFile = async (req: http.IncomingMessage, res: http.ServerResponse, file: string, digest: string) => {
    const size = (await fs.stat(file)).size;
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'Docker-Content-Digest': digest };
    if (req.method === 'HEAD') return send(res, 200, headers);
    stats.blobsServed++;
    stats.bytesServed += size;
    res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    await new Promise<void>((resolve) => {
      createReadStream(file).on('error', () => (res.destroy(), resolve())).pipe(res).on('finish', resolve).on('close', resolve);
    });
  };

  /** The whole request body (manifests: small). */
  const readAll = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    });

  /** Appends a request body to an upload, hashing it on the way: no second read to verify it. */
  const append = (req: http.IncomingMessage, up: Upload): Promise<void> =>
    new Promise((resolve, reject) => {
      req.on('data', (c: Buffer) => {
        up.hash.update(c);
        up.size += c.length;
      });
      req.pipe(createWriteStream(up.file, { flags: 'a' })).on('finish', resolve).on('error', reject);
    });

  const newUpload = async (): Promise<[string, Upload]> => {
    const uuid = randomBytes(12).toString('hex');
    const up: Upload = { file: path.join(uploadsDir, uuid), hash: createHash('sha256'), size: 0 };
    await fs.writeFile(up.file, '');
    return [uuid, up];
  };

  const finishUpload = async (res: http.ServerResponse, up: Upload, digest: string) => {
    if (!DIGEST_RE.test(digest) || 'sha256:' + up.hash.digest('hex') !== digest) {
      await fs.rm(up.file, { force: true });
      return send(res, 400, { 'Content-Type': 'application/json' }, JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'digest mismatch' }] }));
    }
    await fs.rename(up.file, blobPath(exportDir, digest));
    stats.uploads++;
    stats.bytesUploaded += up.size;
    send(res, 201, { Location: `/v2/${PROXY_REPO}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (process.env.OBC_PROXY_TRACE) process.stderr.write(`proxy: ${req.method} ${req.url}\n`);
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/v2/' || p === '/v2') return send(res, 200, { 'Content-Type': 'application/json' }, '{}');
    const prefix = `/v2/${PROXY_REPO}/`;
    if (!p.startsWith(prefix)) return notFound(res, 'NAME_UNKNOWN');
    const rest = p.slice(prefix.length);

    // Manifests: the offered cache under its tag or digest; the export is stored when put.
    if (rest.startsWith('manifests/')) {
      const ref = decodeURIComponent(rest.slice('manifests/'.length));
      if (req.method === 'PUT') {
        const data = await readAll(req);
        const digest = 'sha256:' + createHash('sha256').update(data!).digest('hex');
        await fs.writeFile(blobPath(exportDir, digest), data!);
        if (ref === EXPORT_TAG || ref === digest) await writeLayoutIndex(exportDir, digest, data!.length);
        return send(res, 201, { Location: `/v2/${PROXY_REPO}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
      }
      if (offered && (ref === IMPORT_TAG || ref === offered.listDigest)) {
        const headers = { 'Content-Type': INDEX_MEDIA_TYPE, 'Content-Length': offered.list.length, 'Docker-Content-Digest': offered.listDigest };
        return req.method === 'HEAD' ? send(res, 200, headers) : send(res, 200, headers, offered.list);
      }
      return notFound(res, 'MANIFEST_UNKNOWN');
    }

    // Blob uploads (the export).
    if (rest.startsWith('blobs/uploads')) {
      const id = rest.slice('blobs/uploads'.length).replace(/^\//, '');
      if (req.method === 'POST' && !id) {
        const [uuid, up] = await newUpload();
        const digest = url.searchParams.get('digest');
        if (digest) {
          await append(req, up);
          return finishUpload(res, up, digest);
        }
        req.resume();
        uploads.set(uuid, up);
        return send(res, 202, { Location: `/v2/${PROXY_REPO}/blobs/uploads/${uuid}`, 'Docker-Upload-UUID': uuid, Range: '0-0', 'Content-Length': 0 });
      }
      const up = uploads.get(id);
      if (!up) return notFound(res, 'BLOB_UPLOAD_UNKNOWN');
      if (req.method === 'PATCH') {
        await append(req, up);
        return send(res, 202, { Location: `/v2/${PROXY_REPO}/blobs/uploads/${id}`, 'Docker-Upload-UUID': id, Range: `0-${Math.max(up.size - 1, 0)}`, 'Content-Length': 0 });
      }
      if (req.method === 'PUT') {
        await append(req, up);
        uploads.delete(id);
        return finishUpload(res, up, url.searchParams.get('digest') ?? '');
      }
      return send(res, 405);
    }

    // Blobs: uploaded this run, the offered config, on disk already, or fetched on demand.
    if (rest.startsWith('blobs/')) {
      const digest = decodeURIComponent(rest.slice('blobs/'.length));
      if (!DIGEST_RE.test(digest)) return notFound(res);
      const exported = blobPath(exportDir, digest);
      if (await exists(exported)) return sendFile(req, res, exported, digest);
      if (offered && digest === offered.configDigest) {
        const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': offered.config.length, 'Docker-Content-Digest': digest };
        return req.method === 'HEAD' ? send(res, 200, headers) : send(res, 200, headers, offered.config);
      }
      const local = await src.localPath(digest);
      if (local) return sendFile(req, res, local, digest);
      if (!src.held(digest)) return notFound(res);
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
      return sendFile(req, res, fetched, digest);
    }
    return notFound(res, 'UNSUPPORTED');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    cacheFrom: offered ? `type=registry,ref=${host}/${PROXY_REPO}:${IMPORT_TAG}` : undefined,
    cacheTo: `type=registry,ref=${host}/${PROXY_REPO}:${EXPORT_TAG},mode=max,ignore-error=true`,
    exportDir,
    stats,
    offer: (image) => {
      offered = image ? renderCacheImage(image) : undefined;
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

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}
