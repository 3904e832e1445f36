// Local stand-in for the GitHub Actions cache service (v2, "results" Twirp API + Azure-blob-style
// signed URLs), good enough for the unmodified @actions/cache 6.x client.
//
// Twirp (JSON): POST /twirp/github.actions.results.api.v1.CacheService/{CreateCacheEntry,
//   FinalizeCacheEntryUpload, GetCacheEntryDownloadURL}. @actions/cache builds these URLs with
//   `new URL('/twirp/...', ACTIONS_RESULTS_URL)`, so they always live at the host root.
// Blob uploads: PUT /_blob/uploads/<uploadId>?sig=..  (Put Blob, or ?comp=block&blockid=.. and
//   ?comp=blocklist, as sent by @azure/storage-blob's BlockBlobClient.uploadFile).
// Blob downloads: GET/HEAD /_blob/entries/<blobId>?sig=..  (Range supported).
// Control: GET /_control/stats, GET /_control/log, GET /_control/entries, GET|POST|DELETE
//   /_control/faults, POST /_control/reset, POST /_control/evict ({"keys": [...]}: deletes those
//   committed entries, as the service's eviction does).
//
// Storage layout under `dir`: index.json (committed entries), blobs/<blobId> (archives: a file
// when sent by Put Blob; a directory of the committed blocks, in order, when sent in blocks),
// staging/<uploadId>/ (uploads in progress, per process). Like Azure's Put Block List, a commit
// links the staged blocks into the blob and copies no bytes: its cost does not grow with the size.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
// Imported explicitly (not the globals) so test code that patches global timers does not touch us.
import { setTimeout as nodeSetTimeout, clearTimeout as nodeClearTimeout } from 'node:timers';

/** The name of a committed block blob's part `i` (names sort in the blob's order). */
const partName = (/** @type {number} */ i) => String(i).padStart(6, '0');

/**
 * A stored blob's bytes, in order: the file itself, or the parts of a blob committed from blocks.
 * @param {string} file @returns {{ path: string, size: number }[]}
 */
function blobParts(file) {
  const st = fs.statSync(file);
  if (!st.isDirectory()) return [{ path: file, size: st.size }];
  return fs
    .readdirSync(file)
    .sort()
    .map((name) => ({ path: path.join(file, name), size: fs.statSync(path.join(file, name)).size }));
}

/**
 * The bytes `start`..`end` (inclusive) of a blob made of `parts`.
 * @param {{ path: string, size: number }[]} parts @param {number} start @param {number} end
 * @returns {AsyncGenerator<Buffer>}
 */
async function* readRange(parts, start, end) {
  let at = 0;
  for (const part of parts) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + part.size - 1);
    if (from <= to) yield* fs.createReadStream(part.path, { start: from - at, end: to - at });
    at += part.size;
    if (at > end) return;
  }
}

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/';
const TWIRP_METHODS = {
  CreateCacheEntry: 'create',
  FinalizeCacheEntryUpload: 'finalize',
  GetCacheEntryDownloadURL: 'lookup',
};
const FAULT_OPS = ['create', 'finalize', 'lookup', 'upload', 'download'];
const FAULT_TYPES = ['error', 'rate-limit', 'slow', 'reset', 'truncate', 'corrupt', 'hang'];
const MAX_LOG = 10000;
const MAX_JSON_BODY = 1024 * 1024;
const MAX_BLOCKLIST_BODY = 16 * 1024 * 1024;

/**
 * @typedef {'create'|'finalize'|'lookup'|'upload'|'download'} FaultOp
 * @typedef {'error'|'rate-limit'|'slow'|'reset'|'truncate'|'corrupt'|'hang'} FaultType
 *
 * @typedef {object} Fault
 * @property {FaultOp} op           operation kind the fault applies to
 * @property {FaultType} type       what to do
 * @property {string} [key]         only requests whose cache key contains this substring
 *                                  (lookup: the primary key or any restore key)
 * @property {number} [times]       apply to this many matching requests, then drop; omitted = permanent
 * @property {number} [status]      'error': HTTP status (default 500)
 * @property {number} [retryAfter]  'rate-limit': Retry-After seconds (default 1)
 * @property {number} [delayMs]     'slow': delay before answering normally (default 1000); any other
 *                                  type: extra delay before the fault is acted out (default 0)
 * @property {number} [bytes]       'truncate': body bytes sent before the response is cut
 *                                  (default half); 'corrupt': number of bytes flipped (default 16);
 *                                  'hang' (download/upload only): bytes of the body sent (download,
 *                                  after the headers) or read (upload) before the stall
 * @property {number} [offset]      'corrupt': offset (in the blob) of the first flipped byte
 *                                  (default: middle of the blob)
 * @property {boolean} [hideLength] 'truncate': send no Content-Length (chunked) and end the response
 *                                  cleanly; default false = full Content-Length then close the socket
 *
 * 'hang' accepts the request and never answers, for every op: the connection stays open until the
 * client goes away or the server closes. Without `bytes` the whole request body is read and nothing
 * is answered. With `bytes`, a download sends its status, headers (the full Content-Length) and that
 * many body bytes, and an upload reads that many body bytes and no more; then it stalls. (A stalled
 * upload reads nothing more, so the server notices the client going away only when it closes.)
 */

/**
 * @typedef {object} LogRecord
 * @property {number} seq
 * @property {string} time            ISO time the request arrived
 * @property {string} method
 * @property {string} path            URL path (no query)
 * @property {'create'|'finalize'|'lookup'|'upload'|'download'|'other'} kind
 * @property {'blob'|'block'|'blocklist'} [part]  upload requests: which Azure operation
 * @property {string} [key]
 * @property {string} [version]
 * @property {string[]} [restoreKeys]
 * @property {string} [matchedKey]    lookup hits
 * @property {number} status          HTTP status sent; 0 when the connection was dropped first
 * @property {number} bytesIn         request body bytes received
 * @property {number} bytesOut        response body bytes sent
 * @property {number} durationMs
 * @property {boolean} completed      false when the response was cut (truncate/reset) or the client went away
 * @property {FaultType} [fault]      fault injected into this request
 * @property {string} [error]
 */

/**
 * @typedef {object} CacheEntryInfo
 * @property {number} id
 * @property {string} key
 * @property {string} version
 * @property {number} size
 * @property {string} createdAt ISO time of finalization
 */

/**
 * @typedef {object} CacheServerStats
 * @property {number} entries          committed entries on disk
 * @property {number} totalBytes       sum of their sizes
 * @property {number} uploads          successful upload requests (Put Blob, Put Block, Put Block List)
 * @property {number} bytesUploaded    archive bytes received in upload requests (block list XML not counted)
 * @property {number} downloads        download (GET) requests that sent a body
 * @property {number} bytesDownloaded  archive bytes sent by download requests
 * @property {number} requests         protocol requests (control endpoints not counted)
 * @property {number} faultsInjected
 * @property {number} pendingUploads   reservations created but not finalized
 * @property {number} openRequests     protocol requests not answered and not abandoned by the client yet
 */

class HttpError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Validates and normalizes one fault description.
 * @param {any} input
 * @returns {Fault}
 */
export function normalizeFault(input) {
  if (!input || typeof input !== 'object') throw new TypeError('fault must be an object');
  const { op, type } = input;
  if (!FAULT_OPS.includes(op)) throw new TypeError(`fault.op must be one of ${FAULT_OPS.join(', ')}`);
  if (!FAULT_TYPES.includes(type)) throw new TypeError(`fault.type must be one of ${FAULT_TYPES.join(', ')}`);
  if ((type === 'truncate' || type === 'corrupt') && op !== 'download') {
    throw new TypeError(`fault.type '${type}' only applies to op 'download'`);
  }
  if (type === 'hang' && input.bytes !== undefined && input.bytes !== null && op !== 'download' && op !== 'upload') {
    throw new TypeError(`fault.bytes of type 'hang' only applies to ops 'download' and 'upload'`);
  }
  const int = (/** @type {string} */ name, /** @type {number} */ min, /** @type {number} */ max) => {
    const v = input[name];
    if (v === undefined || v === null) return undefined;
    if (!Number.isInteger(v) || v < min || v > max) throw new TypeError(`fault.${name} must be an integer in [${min}, ${max}]`);
    return v;
  };
  /** @type {Fault} */
  const f = { op, type };
  if (input.key !== undefined && input.key !== null) {
    if (typeof input.key !== 'string') throw new TypeError('fault.key must be a string');
    f.key = input.key;
  }
  const times = int('times', 1, Number.MAX_SAFE_INTEGER);
  if (times !== undefined) f.times = times;
  const delayMs = int('delayMs', 0, 24 * 3600 * 1000);
  if (type === 'slow') f.delayMs = delayMs ?? 1000;
  else if (delayMs) f.delayMs = delayMs;
  if (type === 'error') f.status = int('status', 400, 599) ?? 500;
  if (type === 'rate-limit') f.retryAfter = int('retryAfter', 0, 86400) ?? 1;
  if (type === 'truncate') {
    const bytes = int('bytes', 0, Number.MAX_SAFE_INTEGER);
    if (bytes !== undefined) f.bytes = bytes;
    f.hideLength = Boolean(input.hideLength);
  }
  if (type === 'hang') {
    const bytes = int('bytes', 0, Number.MAX_SAFE_INTEGER);
    if (bytes) f.bytes = bytes;
  }
  if (type === 'corrupt') {
    f.bytes = int('bytes', 1, Number.MAX_SAFE_INTEGER) ?? 16;
    const offset = int('offset', 0, Number.MAX_SAFE_INTEGER);
    if (offset !== undefined) f.offset = offset;
  }
  return f;
}

/**
 * Starts the cache service.
 *
 * A reservation is exclusive, as on GitHub's service: while an upload of (key, version) is
 * unfinished, CreateCacheEntry for it answers 409, which @actions/cache reports as "another job may
 * be creating this cache" (actions/cache#1612: an unfinished reservation keeps blocking the key).
 * How long GitHub keeps an abandoned one is not documented; here it lapses `reservationLapseMs`
 * after its last request, so that a later run of a test can store the key again.
 * @param {{ dir?: string, port?: number, host?: string, token?: string, reservationLapseMs?: number }} [options]
 */
export async function startCacheServer({ dir, port = 0, host = '127.0.0.1', token = 'local-cache-service-token', reservationLapseMs = 30_000 } = {}) {
  if (!dir) throw new TypeError('startCacheServer: `dir` is required');
  const root = path.resolve(dir);
  const blobsDir = path.join(root, 'blobs');
  const stagingDir = path.join(root, 'staging');
  const indexPath = path.join(root, 'index.json');
  fs.mkdirSync(blobsDir, { recursive: true });
  fs.mkdirSync(stagingDir, { recursive: true });

  const secret = crypto.randomBytes(32);
  const sign = (/** @type {string} */ p) => crypto.createHmac('sha256', secret).update(p).digest('base64url');

  // ---------------------------------------------------------------- index (committed entries)
  /** @type {Array<{id:number,key:string,version:string,size:number,blob:string,createdAt:string,createdAtMs:number}>} */
  let entries = [];
  let indexStamp = '';
  const stampOf = () => {
    try {
      const st = fs.statSync(indexPath);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return 'missing';
    }
  };
  const refreshIndex = () => {
    const stamp = stampOf();
    if (stamp === indexStamp) return;
    if (stamp === 'missing') {
      entries = [];
    } else {
      const parsed = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
      entries = Array.isArray(parsed.entries) ? parsed.entries : [];
    }
    indexStamp = stamp;
  };
  const writeIndex = () => {
    const tmp = `${indexPath}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ format: 1, entries }, null, 2));
    fs.renameSync(tmp, indexPath);
    indexStamp = stampOf();
  };
  refreshIndex();

  const findExact = (/** @type {string} */ key, /** @type {string} */ version) =>
    entries.find((e) => e.key === key && e.version === version);
  const findNewestWithPrefix = (/** @type {string} */ prefix, /** @type {string} */ version) => {
    let best;
    for (const e of entries) {
      if (e.version !== version || !e.key.startsWith(prefix)) continue;
      if (!best || e.createdAtMs > best.createdAtMs || (e.createdAtMs === best.createdAtMs && e.id > best.id)) best = e;
    }
    return best;
  };

  // ---------------------------------------------------------------- reservations (uploads in progress)
  /** @type {Map<string, {uploadId:string,key:string,version:string,dir:string,dataPath:string,complete:boolean,size:number,touchedMs:number}>} */
  const reservationsByKV = new Map();
  /** @type {Map<string, {uploadId:string,key:string,version:string,dir:string,dataPath:string,complete:boolean,size:number,touchedMs:number}>} */
  const reservationsById = new Map();
  const kv = (/** @type {string} */ key, /** @type {string} */ version) => `${version}\u0000${key}`;
  const dropReservation = (/** @type {{uploadId:string,key:string,version:string,dir:string}} */ r) => {
    if (reservationsByKV.get(kv(r.key, r.version)) === r) reservationsByKV.delete(kv(r.key, r.version));
    reservationsById.delete(r.uploadId);
    fs.rmSync(r.dir, { recursive: true, force: true });
  };

  // ---------------------------------------------------------------- faults, log, counters
  /** @type {Array<Fault & {id:number, hits:number}>} */
  let faults = [];
  let faultSeq = 0;
  /** @type {LogRecord[]} */
  let requestLog = [];
  let seq = 0;
  const counters = { uploads: 0, bytesUploaded: 0, downloads: 0, bytesDownloaded: 0, requests: 0, faultsInjected: 0 };
  const resetCounters = () => {
    for (const k of Object.keys(counters)) counters[/** @type {keyof typeof counters} */ (k)] = 0;
  };

  /** @param {FaultOp} op @param {Array<string|undefined>} keys */
  const takeFault = (op, keys) => {
    const idx = faults.findIndex(
      (f) => f.op === op && (f.key === undefined || keys.some((k) => typeof k === 'string' && k.includes(/** @type {string} */ (f.key)))),
    );
    if (idx < 0) return undefined;
    const f = faults[idx];
    f.hits++;
    if (f.times !== undefined) {
      f.times--;
      if (f.times <= 0) faults.splice(idx, 1);
    }
    counters.faultsInjected++;
    return f;
  };

  // ---------------------------------------------------------------- timers that never hold the process
  let closed = false;
  /** @type {Set<{timer: NodeJS.Timeout, resolve: () => void}>} */
  const sleepers = new Set();
  const sleep = (/** @type {number} */ ms) =>
    new Promise((/** @type {(v?: unknown) => void} */ resolve) => {
      if (closed || ms <= 0) return resolve();
      const s = {
        timer: nodeSetTimeout(() => {
          sleepers.delete(s);
          resolve();
        }, ms),
        resolve: () => resolve(),
      };
      s.timer.unref();
      sleepers.add(s);
    });

  // ---------------------------------------------------------------- helpers
  /** @param {http.IncomingMessage} req @param {number} limit @param {LogRecord} [rec] */
  const readBody = async (req, limit, rec) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (rec) rec.bytesIn = size;
      if (size > limit) throw new HttpError(413, 'RequestBodyTooLarge', 'request body too large');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  };
  /** @param {http.IncomingMessage} req @param {LogRecord} rec */
  const drainBody = async (req, rec) => {
    if (req.readableEnded) return;
    for await (const chunk of req) rec.bytesIn += chunk.length;
  };
  /**
   * @param {http.ServerResponse} res @param {LogRecord} rec @param {number} status
   * @param {Record<string, string|number>} headers @param {string|Buffer} [body]
   */
  const send = (res, rec, status, headers, body) => {
    if (res.headersSent || res.destroyed) return;
    const buf = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
    rec.status = status;
    res.writeHead(status, { ...headers, 'Content-Length': buf.length });
    rec.bytesOut += buf.length;
    res.end(buf);
  };
  /** @param {http.ServerResponse} res @param {LogRecord} rec @param {unknown} obj */
  const sendJson = (res, rec, obj) => send(res, rec, 200, { 'Content-Type': 'application/json' }, JSON.stringify(obj));
  const twirpCodeFor = (/** @type {number} */ status) =>
    ({ 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'already_exists', 413: 'invalid_argument', 429: 'resource_exhausted', 501: 'unimplemented', 502: 'unavailable', 503: 'unavailable', 504: 'deadline_exceeded' })[status] ??
    (status >= 500 ? 'internal' : 'unknown');
  /** @param {http.ServerResponse} res @param {LogRecord} rec @param {number} status @param {string} code @param {string} msg @param {Record<string,string>} [headers] */
  const sendTwirpError = (res, rec, status, code, msg, headers = {}) => {
    rec.error = msg;
    send(res, rec, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify({ code, msg }));
  };
  /** @param {http.ServerResponse} res @param {LogRecord} rec @param {number} status @param {string} code @param {string} msg @param {Record<string,string>} [headers] */
  const sendBlobError = (res, rec, status, code, msg, headers = {}) => {
    rec.error = msg;
    const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${msg}</Message></Error>`;
    send(res, rec, status, { 'Content-Type': 'application/xml', 'x-ms-error-code': code, ...azureHeaders(), ...headers }, xml);
  };
  const azureHeaders = () => ({
    'x-ms-request-id': crypto.randomUUID(),
    'x-ms-version': '2025-01-05',
    Date: new Date().toUTCString(),
  });
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {LogRecord} rec */
  const resetConnection = (req, res, rec) => {
    rec.status = 0;
    rec.error = 'connection reset (injected)';
    req.socket.destroy();
    res.destroy();
  };
  /**
   * A hung request: resolves only when the client goes away or the server closes (close() drops
   * every connection), never by answering.
   * @param {http.ServerResponse} res @param {LogRecord} rec @param {string} what
   */
  const hang = (res, rec, what) => {
    rec.error = `hung (injected) ${what}`;
    return new Promise((resolve) => {
      if (closed || res.destroyed) return resolve(undefined);
      res.once('close', () => resolve(undefined));
    });
  };
  /**
   * Reads exactly `n` bytes of the request body (fewer when it ends first) and leaves the rest unread.
   * @param {http.IncomingMessage} req @param {number} n @param {LogRecord} rec
   */
  const readPrefix = (req, n, rec) =>
    new Promise((resolve) => {
      const finish = () => {
        req.off('readable', pump);
        req.off('end', finish);
        req.off('close', finish);
        resolve(undefined);
      };
      const pump = () => {
        while (rec.bytesIn < n) {
          const want = Math.min(n - rec.bytesIn, req.readableLength);
          const chunk = want > 0 ? req.read(want) : null;
          if (!chunk) return;
          rec.bytesIn += chunk.length;
        }
        finish();
      };
      req.on('readable', pump);
      req.once('end', finish);
      req.once('close', finish);
      pump();
    });
  /**
   * Acts out a fault that answers instead of the normal handler. Returns true when the request
   * has been answered (or dropped), false when the normal handler should continue.
   * @param {Fault|undefined} f @param {http.IncomingMessage} req @param {http.ServerResponse} res
   * @param {LogRecord} rec @param {'twirp'|'blob'} flavour
   */
  const actOutFault = async (f, req, res, rec, flavour) => {
    if (!f) return false;
    rec.fault = f.type;
    if (f.delayMs) await sleep(f.delayMs);
    if (closed) {
      resetConnection(req, res, rec);
      return true;
    }
    switch (f.type) {
      case 'slow':
      case 'truncate':
      case 'corrupt':
        return false;
      case 'reset':
        resetConnection(req, res, rec);
        return true;
      case 'hang':
        // A download that stalls after some bytes is acted out by the download handler.
        if (rec.kind === 'download' && f.bytes) return false;
        if (rec.kind === 'upload' && f.bytes) await readPrefix(req, f.bytes, rec);
        else await drainBody(req, rec);
        await hang(res, rec, f.bytes ? `after ${rec.bytesIn} body bytes` : 'before answering');
        return true;
      case 'error':
      case 'rate-limit': {
        const status = f.type === 'error' ? /** @type {number} */ (f.status) : 429;
        const headers = f.type === 'rate-limit' ? { 'Retry-After': String(f.retryAfter) } : {};
        const msg = `injected fault: ${f.type} ${status}`;
        if (flavour === 'blob') {
          await drainBody(req, rec);
          const code = status === 429 || status === 503 ? 'ServerBusy' : status >= 500 ? 'InternalError' : 'InjectedFault';
          sendBlobError(res, rec, status, code, msg, headers);
        } else {
          sendTwirpError(res, rec, status, twirpCodeFor(status), msg, headers);
        }
        return true;
      }
    }
    return false;
  };

  const baseUrlHost = host.includes(':') ? `[${host}]` : host;
  /** @type {string} */
  let baseUrl = '';
  const blobUrl = (/** @type {string} */ container, /** @type {string} */ name) =>
    `${baseUrl}_blob/${container}/${name}?sig=${sign(`${container}/${name}`)}`;

  // ---------------------------------------------------------------- twirp handlers
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {LogRecord} rec @param {string} method */
  const handleTwirp = async (req, res, rec, method) => {
    const kind = TWIRP_METHODS[/** @type {keyof typeof TWIRP_METHODS} */ (method)];
    if (!kind) {
      await drainBody(req, rec);
      return sendTwirpError(res, rec, 404, 'bad_route', `no handler for method ${method}`);
    }
    rec.kind = kind;
    if (req.method !== 'POST') return sendTwirpError(res, rec, 404, 'bad_route', 'twirp requires POST');
    const body = await readBody(req, MAX_JSON_BODY, rec);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendTwirpError(res, rec, 415, 'bad_route', 'only application/json is supported');
    }
    if (!/^Bearer \S/.test(String(req.headers.authorization ?? ''))) {
      return sendTwirpError(res, rec, 401, 'unauthenticated', 'missing bearer token');
    }
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return sendTwirpError(res, rec, 400, 'malformed', 'request body is not valid JSON');
    }
    const key = typeof msg.key === 'string' ? msg.key : '';
    const version = typeof msg.version === 'string' ? msg.version : '';
    /** @type {string[]} */
    const restoreKeys = (msg.restore_keys ?? msg.restoreKeys ?? []).filter((/** @type {unknown} */ k) => typeof k === 'string');
    rec.key = key;
    rec.version = version;
    if (kind === 'lookup') rec.restoreKeys = restoreKeys;

    if (await actOutFault(takeFault(kind, [key, ...(kind === 'lookup' ? restoreKeys : [])]), req, res, rec, 'twirp')) return;
    if (!key) return sendTwirpError(res, rec, 400, 'invalid_argument', 'key is required');
    if (!version) return sendTwirpError(res, rec, 400, 'invalid_argument', 'version is required');
    refreshIndex();

    if (kind === 'create') {
      if (findExact(key, version)) {
        return sendTwirpError(res, rec, 409, 'already_exists', `cache entry with key '${key}' and this version already exists`);
      }
      // An unfinished reservation blocks the key until it lapses.
      const previous = reservationsByKV.get(kv(key, version));
      if (previous && Date.now() - previous.touchedMs < reservationLapseMs) {
        return sendTwirpError(res, rec, 409, 'already_exists', `an upload of cache entry '${key}' with this version is in progress`);
      }
      if (previous) dropReservation(previous);
      const uploadId = crypto.randomBytes(16).toString('hex');
      const rdir = path.join(stagingDir, uploadId);
      fs.mkdirSync(path.join(rdir, 'blocks'), { recursive: true });
      const r = { uploadId, key, version, dir: rdir, dataPath: path.join(rdir, 'data'), complete: false, size: 0, touchedMs: Date.now() };
      reservationsByKV.set(kv(key, version), r);
      reservationsById.set(uploadId, r);
      return sendJson(res, rec, { ok: true, signed_upload_url: blobUrl('uploads', uploadId), message: '' });
    }

    if (kind === 'finalize') {
      const r = reservationsByKV.get(kv(key, version));
      if (!r) {
        const already = findExact(key, version);
        return sendJson(res, rec, {
          ok: false,
          entry_id: '0',
          message: already ? `cache entry with key '${key}' is already finalized` : `no upload in progress for key '${key}'`,
        });
      }
      if (!r.complete) {
        return sendJson(res, rec, { ok: false, entry_id: '0', message: `upload for key '${key}' has not been completed` });
      }
      const declared = Number(msg.size_bytes ?? msg.sizeBytes ?? NaN);
      if (Number.isFinite(declared) && declared !== r.size) {
        dropReservation(r);
        return sendJson(res, rec, {
          ok: false,
          entry_id: '0',
          message: `size mismatch for key '${key}': declared ${declared}, uploaded ${r.size}`,
        });
      }
      fs.renameSync(r.dataPath, path.join(blobsDir, r.uploadId));
      refreshIndex();
      if (findExact(key, version)) {
        // Another process committed the same entry meanwhile; entries are immutable.
        fs.rmSync(path.join(blobsDir, r.uploadId), { recursive: true, force: true });
        dropReservation(r);
        return sendJson(res, rec, { ok: false, entry_id: '0', message: `cache entry with key '${key}' already exists` });
      }
      const now = Date.now();
      const id = entries.reduce((m, e) => Math.max(m, e.id), 0) + 1;
      entries.push({ id, key, version, size: r.size, blob: r.uploadId, createdAt: new Date(now).toISOString(), createdAtMs: now });
      writeIndex();
      dropReservation(r);
      return sendJson(res, rec, { ok: true, entry_id: String(id), message: '' });
    }

    // lookup: for each key in order, exact match first, then the newest entry with that prefix.
    for (const k of [key, ...restoreKeys]) {
      const hit = findExact(k, version) ?? findNewestWithPrefix(k, version);
      if (hit) {
        rec.matchedKey = hit.key;
        return sendJson(res, rec, { ok: true, signed_download_url: blobUrl('entries', hit.blob), matched_key: hit.key });
      }
    }
    return sendJson(res, rec, { ok: false, signed_download_url: '', matched_key: '' });
  };

  // ---------------------------------------------------------------- blob handlers
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {LogRecord} rec @param {URL} url @param {string} container @param {string} name */
  const handleBlob = async (req, res, rec, url, container, name) => {
    const sig = url.searchParams.get('sig') ?? '';
    const expected = sign(`${container}/${name}`);
    const sigOk = sig.length === expected.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
    if (container === 'uploads') {
      rec.kind = 'upload';
      const comp = url.searchParams.get('comp');
      rec.part = comp === 'block' ? 'block' : comp === 'blocklist' ? 'blocklist' : 'blob';
      if (req.method !== 'PUT') {
        await drainBody(req, rec);
        return sendBlobError(res, rec, 405, 'UnsupportedHttpVerb', 'uploads accept PUT only');
      }
      if (!sigOk) {
        await drainBody(req, rec);
        return sendBlobError(res, rec, 403, 'AuthenticationFailed', 'bad signature');
      }
      const r = reservationsById.get(name);
      if (!r) {
        await drainBody(req, rec);
        return sendBlobError(res, rec, 404, 'BlobNotFound', 'no such upload (finalized, replaced or unknown)');
      }
      r.touchedMs = Date.now();
      rec.key = r.key;
      rec.version = r.version;
      if (await actOutFault(takeFault('upload', [r.key]), req, res, rec, 'blob')) return;
      return handleUpload(req, res, rec, url, r);
    }
    // entries
    rec.kind = 'download';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      await drainBody(req, rec);
      return sendBlobError(res, rec, 405, 'UnsupportedHttpVerb', 'downloads accept GET and HEAD only');
    }
    if (!sigOk) return sendBlobError(res, rec, 403, 'AuthenticationFailed', 'bad signature');
    refreshIndex();
    const entry = entries.find((e) => e.blob === name);
    const file = path.join(blobsDir, name);
    if (!entry || !fs.existsSync(file)) return sendBlobError(res, rec, 404, 'BlobNotFound', 'no such blob');
    rec.key = entry.key;
    rec.version = entry.version;
    const f = req.method === 'GET' ? takeFault('download', [entry.key]) : undefined;
    if (await actOutFault(f, req, res, rec, 'blob')) return;
    return handleDownload(req, res, rec, file, entry, f);
  };

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {LogRecord} rec @param {URL} url @param {{uploadId:string,key:string,version:string,dir:string,dataPath:string,complete:boolean,size:number,touchedMs:number}} r */
  const handleUpload = async (req, res, rec, url, r) => {
    const counting = () =>
      new Transform({
        transform(chunk, _enc, cb) {
          rec.bytesIn += chunk.length;
          cb(null, chunk);
        },
      });
    const okHeaders = () => ({
      ...azureHeaders(),
      ETag: `"0x${crypto.randomBytes(8).toString('hex').toUpperCase()}"`,
      'Last-Modified': new Date().toUTCString(),
      'x-ms-request-server-encrypted': 'true',
    });
    if (rec.part === 'block') {
      const blockId = (url.searchParams.get('blockid') ?? '').replace(/ /g, '+');
      if (!blockId) {
        await drainBody(req, rec);
        return sendBlobError(res, rec, 400, 'InvalidQueryParameterValue', 'blockid is required');
      }
      const blockPath = path.join(r.dir, 'blocks', Buffer.from(blockId).toString('hex'));
      const tmp = `${blockPath}.${crypto.randomBytes(4).toString('hex')}.part`;
      await pipeline(req, counting(), fs.createWriteStream(tmp));
      if (!reservationsById.has(r.uploadId)) {
        fs.rmSync(tmp, { force: true });
        return sendBlobError(res, rec, 404, 'BlobNotFound', 'upload was replaced while the block was being written');
      }
      fs.renameSync(tmp, blockPath);
      counters.uploads++;
      counters.bytesUploaded += rec.bytesIn;
      return send(res, rec, 201, okHeaders());
    }
    if (rec.part === 'blocklist') {
      const xml = (await readBody(req, MAX_BLOCKLIST_BODY, rec)).toString('utf8');
      /** @type {string[]} */
      const ids = [];
      for (const m of xml.matchAll(/<(Latest|Committed|Uncommitted)>\s*([^<]*?)\s*<\/\1>/g)) ids.push(m[2]);
      const paths = ids.map((id) => path.join(r.dir, 'blocks', Buffer.from(id).toString('hex')));
      const missing = ids.filter((_, i) => !fs.existsSync(paths[i]));
      if (missing.length) return sendBlobError(res, rec, 400, 'InvalidBlockList', `unknown block ids: ${missing.join(', ')}`);
      // The blob is the staged blocks in the listed order (a block may be listed twice): links, no copy.
      const tmp = `${r.dataPath}.${crypto.randomBytes(4).toString('hex')}.part`;
      fs.mkdirSync(tmp);
      paths.forEach((p, i) => fs.linkSync(p, path.join(tmp, partName(i))));
      if (!reservationsById.has(r.uploadId)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        return sendBlobError(res, rec, 404, 'BlobNotFound', 'upload was replaced during commit');
      }
      fs.rmSync(r.dataPath, { recursive: true, force: true });
      fs.renameSync(tmp, r.dataPath);
      fs.rmSync(path.join(r.dir, 'blocks'), { recursive: true, force: true });
      fs.mkdirSync(path.join(r.dir, 'blocks'));
      r.size = blobParts(r.dataPath).reduce((n, part) => n + part.size, 0);
      r.complete = true;
      counters.uploads++;
      return send(res, rec, 201, okHeaders());
    }
    // Put Blob (single shot)
    const tmp = `${r.dataPath}.${crypto.randomBytes(4).toString('hex')}.part`;
    await pipeline(req, counting(), fs.createWriteStream(tmp));
    if (!reservationsById.has(r.uploadId)) {
      fs.rmSync(tmp, { force: true });
      return sendBlobError(res, rec, 404, 'BlobNotFound', 'upload was replaced while the blob was being written');
    }
    fs.rmSync(r.dataPath, { recursive: true, force: true });
    fs.renameSync(tmp, r.dataPath);
    r.size = rec.bytesIn;
    r.complete = true;
    counters.uploads++;
    counters.bytesUploaded += rec.bytesIn;
    return send(res, rec, 201, okHeaders());
  };

  /** @param {http.ServerResponse} res @param {Buffer} chunk */
  const writeChunk = (res, chunk) =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve(false);
      if (res.write(chunk)) return resolve(true);
      const done = (/** @type {boolean} */ v) => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(v);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {LogRecord} rec @param {string} file
   * @param {{size:number, createdAt:string, id:number}} entry @param {Fault|undefined} f
   */
  const handleDownload = async (req, res, rec, file, entry, f) => {
    const parts = blobParts(file);
    const size = parts.reduce((n, part) => n + part.size, 0);
    let start = 0;
    let end = size - 1;
    let status = 200;
    /** @type {Record<string, string|number>} */
    const headers = {
      ...azureHeaders(),
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"entry-${entry.id}"`,
      'Last-Modified': new Date(entry.createdAt).toUTCString(),
      'x-ms-blob-type': 'BlockBlob',
    };
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      let ok = Boolean(m) && !(m?.[1] === '' && m?.[2] === '');
      if (m && ok) {
        if (m[1] === '') {
          start = Math.max(0, size - Number(m[2]));
        } else {
          start = Number(m[1]);
          end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
        }
        ok = start <= end && start < size;
      }
      if (!ok) return sendBlobError(res, rec, 416, 'InvalidRange', 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = end - start + 1;
    if (req.method === 'HEAD') {
      rec.status = status;
      res.writeHead(status, { ...headers, 'Content-Length': length });
      res.end();
      return;
    }
    counters.downloads++;
    let sendLength = length;
    if (f?.type === 'truncate') sendLength = Math.min(length, f.bytes ?? Math.floor(length / 2));
    if (f?.type === 'hang') sendLength = Math.min(length, f.bytes ?? 0);
    if (!(f?.type === 'truncate' && f.hideLength)) headers['Content-Length'] = length;
    rec.status = status;
    res.writeHead(status, headers);
    const corruptFrom = f?.type === 'corrupt' ? (f.offset ?? Math.floor(size / 2)) : -1;
    const corruptTo = f?.type === 'corrupt' ? corruptFrom + /** @type {number} */ (f.bytes) : -1;
    let pos = start;
    if (sendLength > 0) {
      for await (const raw of readRange(parts, start, start + sendLength - 1)) {
        /** @type {Buffer} */
        let chunk = raw;
        if (corruptFrom >= 0 && pos < corruptTo && pos + chunk.length > corruptFrom) {
          chunk = Buffer.from(chunk);
          for (let i = Math.max(corruptFrom, pos); i < Math.min(corruptTo, pos + chunk.length); i++) chunk[i - pos] ^= 0xff;
        }
        pos += chunk.length;
        rec.bytesOut += chunk.length;
        counters.bytesDownloaded += chunk.length;
        if (!(await writeChunk(res, chunk)) || closed) break;
      }
    }
    if (f?.type === 'hang') {
      await hang(res, rec, `after ${rec.bytesOut} of ${length} body bytes`);
      return;
    }
    if (f?.type === 'truncate' && !f.hideLength && sendLength < length) {
      rec.error = `truncated after ${sendLength} of ${length} bytes (connection closed)`;
      // Flush what was written, then close the connection without completing the body.
      res.socket?.end();
      return;
    }
    if (f?.type === 'truncate' && sendLength < length) rec.error = `truncated after ${sendLength} of ${length} bytes (clean end)`;
    res.end();
  };

  // ---------------------------------------------------------------- control endpoint
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {URL} url */
  const handleControl = async (req, res, url) => {
    const rec = /** @type {LogRecord} */ ({ bytesOut: 0 }); // not logged
    const what = url.pathname.slice('/_control/'.length);
    const json = (/** @type {number} */ status, /** @type {unknown} */ obj) =>
      send(res, rec, status, { 'Content-Type': 'application/json' }, JSON.stringify(obj, null, 2));
    try {
      if (req.method === 'GET' && what === 'stats') return json(200, api.stats());
      if (req.method === 'GET' && what === 'log') return json(200, api.log());
      if (req.method === 'GET' && what === 'entries') return json(200, api.entries());
      if (req.method === 'GET' && what === 'faults') return json(200, api.faults());
      const body = (await readBody(req, MAX_JSON_BODY)).toString('utf8');
      const parsed = body.trim() ? JSON.parse(body) : undefined;
      if (req.method === 'POST' && what === 'faults') {
        const list = Array.isArray(parsed) ? parsed : parsed?.faults;
        if (!Array.isArray(list)) return json(400, { error: 'expected a JSON array of faults or {"faults": [...]}' });
        if (parsed?.append) api.addFaults(list);
        else api.setFaults(list);
        return json(200, api.faults());
      }
      if (req.method === 'DELETE' && what === 'faults') {
        api.clearFaults();
        return json(200, []);
      }
      if (req.method === 'POST' && what === 'evict') return json(200, api.evict(parsed?.keys));
      if (req.method === 'POST' && what === 'reset') {
        api.reset({ entries: Boolean(parsed?.entries) });
        return json(200, api.stats());
      }
      return json(404, { error: `unknown control request ${req.method} ${url.pathname}` });
    } catch (err) {
      return json(400, { error: err instanceof Error ? err.message : String(err) });
    }
  };

  // ---------------------------------------------------------------- server
  /** @type {Set<Promise<void>>} */
  const inflight = new Set();
  /** Protocol requests whose connection has not closed yet (a hung one stays until the client goes). */
  let openRequests = 0;
  const server = http.createServer((req, res) => {
    const p = handle(req, res).finally(() => inflight.delete(p));
    inflight.add(p);
  });
  server.requestTimeout = 0; // large uploads may take a while
  server.headersTimeout = 60_000;

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  const handle = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname.startsWith('/_control/')) return handleControl(req, res, url);
    /** @type {LogRecord} */
    const rec = {
      seq: ++seq,
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: url.pathname,
      kind: 'other',
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      completed: false,
    };
    const started = performance.now();
    requestLog.push(rec);
    if (requestLog.length > MAX_LOG) requestLog.splice(0, requestLog.length - MAX_LOG);
    counters.requests++;
    openRequests++;
    res.on('close', () => {
      openRequests--;
      rec.completed = res.writableFinished;
      if (!res.headersSent) rec.status = 0;
    });
    try {
      if (url.pathname.startsWith(TWIRP_PREFIX)) {
        await handleTwirp(req, res, rec, url.pathname.slice(TWIRP_PREFIX.length));
      } else {
        const m = /^\/_blob\/(uploads|entries)\/([0-9a-f]{32})$/.exec(url.pathname);
        if (m) await handleBlob(req, res, rec, url, m[1], m[2]);
        else {
          await drainBody(req, rec);
          send(res, rec, 404, { 'Content-Type': 'text/plain' }, 'not found');
        }
      }
    } catch (err) {
      const e = /** @type {any} */ (err);
      rec.error = e?.message ?? String(err);
      if (!res.headersSent && !res.destroyed) {
        const status = e instanceof HttpError ? e.status : 500;
        if (rec.kind === 'upload' || rec.kind === 'download') sendBlobError(res, rec, status, e?.code ?? 'InternalError', rec.error);
        else sendTwirpError(res, rec, status, twirpCodeFor(status), rec.error);
      } else {
        res.destroy();
      }
    } finally {
      rec.durationMs = Math.round(performance.now() - started);
    }
  };

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  baseUrl = `http://${baseUrlHost}:${addr.port}/`;

  const publicEntry = (/** @type {typeof entries[number]} */ e) => ({ id: e.id, key: e.key, version: e.version, size: e.size, createdAt: e.createdAt });

  const api = {
    /** Base URL with a trailing slash (the value for ACTIONS_RESULTS_URL). */
    url: baseUrl,
    port: addr.port,
    dir: root,
    /** The environment @actions/cache needs to talk to this service (cache service v2). */
    env: () => ({
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: baseUrl,
      ACTIONS_RUNTIME_TOKEN: token,
      GITHUB_SERVER_URL: 'https://github.com',
    }),
    /** Replaces the active faults. @param {any[]} list */
    setFaults: (list) => {
      if (!Array.isArray(list)) throw new TypeError('setFaults expects an array');
      const normalized = list.map(normalizeFault);
      faults = normalized.map((f) => ({ ...f, id: ++faultSeq, hits: 0 }));
    },
    /** Appends faults to the active ones. @param {any[]} list */
    addFaults: (list) => {
      if (!Array.isArray(list)) throw new TypeError('addFaults expects an array');
      const normalized = list.map(normalizeFault);
      faults.push(...normalized.map((f) => ({ ...f, id: ++faultSeq, hits: 0 })));
    },
    clearFaults: () => {
      faults = [];
    },
    /** Lets every unfinished reservation lapse now, as an abandoned one does after a while. */
    lapseReservations: () => {
      for (const r of reservationsById.values()) r.touchedMs = -Infinity;
    },
    /** Active faults with their remaining `times` and `hits` so far. */
    faults: () => faults.map((f) => ({ ...f })),
    /** @returns {LogRecord[]} */
    log: () => requestLog.map((r) => ({ ...r, ...(r.restoreKeys ? { restoreKeys: [...r.restoreKeys] } : {}) })),
    /** Clears the request log and the traffic counters (entries and faults are kept). */
    resetLog: () => {
      requestLog = [];
      resetCounters();
    },
    /** Log + counters + faults; with { entries: true } also deletes every stored entry and pending upload. */
    reset: ({ entries: wipe = false } = {}) => {
      api.resetLog();
      api.clearFaults();
      if (wipe) {
        for (const r of [...reservationsById.values()]) dropReservation(r);
        refreshIndex();
        for (const e of entries) fs.rmSync(path.join(blobsDir, e.blob), { recursive: true, force: true });
        entries = [];
        writeIndex();
      }
    },
    /**
     * Deletes the committed entries with these keys (every version), as the service's eviction does
     * (unused for a week, or the repository's quota reached). @param {string[]} keys
     * @returns {CacheEntryInfo[]} the entries deleted
     */
    evict: (keys) => {
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw new TypeError('evict expects an array of keys');
      refreshIndex();
      const wanted = new Set(keys);
      const gone = entries.filter((e) => wanted.has(e.key));
      for (const e of gone) fs.rmSync(path.join(blobsDir, e.blob), { recursive: true, force: true });
      entries = entries.filter((e) => !wanted.has(e.key));
      writeIndex();
      return gone.map(publicEntry);
    },
    /** @returns {CacheEntryInfo[]} committed entries, oldest first */
    entries: () => {
      refreshIndex();
      return [...entries].sort((a, b) => a.createdAtMs - b.createdAtMs || a.id - b.id).map(publicEntry);
    },
    /** @returns {CacheServerStats} */
    stats: () => {
      refreshIndex();
      return {
        entries: entries.length,
        totalBytes: entries.reduce((s, e) => s + e.size, 0),
        ...counters,
        pendingUploads: reservationsById.size,
        openRequests,
      };
    },
    /** Stops listening, drops open connections and pending delays. */
    close: async () => {
      if (closed) return;
      closed = true;
      for (const s of sleepers) {
        nodeClearTimeout(s.timer);
        s.resolve();
      }
      sleepers.clear();
      const done = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections();
      await done;
      await Promise.allSettled([...inflight]);
      for (const r of [...reservationsById.values()]) dropReservation(r);
    },
  };
  return api;
}
