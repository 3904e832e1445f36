// Types for cache-server.mjs (a local GitHub Actions cache service v2 for tests and local runs).

export type FaultOp = 'create' | 'finalize' | 'lookup' | 'upload' | 'download';
export type FaultType = 'error' | 'rate-limit' | 'slow' | 'reset' | 'truncate' | 'corrupt' | 'hang';

export interface Fault {
  /** Operation kind the fault applies to. */
  op: FaultOp;
  /**
   * error: answer `status` (default 500). rate-limit: answer 429 with `Retry-After: retryAfter`.
   * slow: wait `delayMs` (default 1000) then answer normally. reset: drop the connection without an answer.
   * truncate / corrupt (op 'download' only): cut the body / flip bytes of it.
   * hang (every op): accept the request (its whole body) and never answer; the connection stays
   * open until the client goes away or the server closes. With `bytes` (download, upload), a
   * download first sends its status, headers (full Content-Length) and that many body bytes, an
   * upload reads that many body bytes and no more; then it stalls (a stalled upload's client going
   * away is noticed only when the server closes).
   */
  type: FaultType;
  /** Only requests whose cache key contains this substring (lookup: the primary key or any restore key). */
  key?: string;
  /** Apply to this many matching requests, then the fault is dropped. Omitted = permanent. */
  times?: number;
  /** type 'error': HTTP status to answer (400-599, default 500). */
  status?: number;
  /** type 'rate-limit': Retry-After seconds (default 1). */
  retryAfter?: number;
  /** type 'slow': delay before answering normally (default 1000). Other types: delay before the fault (default 0). */
  delayMs?: number;
  /**
   * truncate: body bytes sent before the cut (default half). corrupt: number of bytes flipped (default 16).
   * hang (download / upload only): body bytes sent / read before the stall.
   */
  bytes?: number;
  /** corrupt: blob offset of the first flipped byte (default: middle of the blob). */
  offset?: number;
  /**
   * truncate: false (default) = full Content-Length, then the connection is closed early;
   * true = no Content-Length (chunked) and the short body ends cleanly.
   */
  hideLength?: boolean;
}

export interface ActiveFault extends Fault {
  id: number;
  /** Requests this fault has been applied to so far. */
  hits: number;
}

export interface LogRecord {
  seq: number;
  /** ISO time the request arrived. */
  time: string;
  method: string;
  /** URL path without the query. */
  path: string;
  kind: 'create' | 'finalize' | 'lookup' | 'upload' | 'download' | 'other';
  /** Upload requests: Put Blob ('blob'), Put Block ('block') or Put Block List ('blocklist'). */
  part?: 'blob' | 'block' | 'blocklist';
  key?: string;
  version?: string;
  restoreKeys?: string[];
  /** Lookup hits: the key of the entry returned. */
  matchedKey?: string;
  /** HTTP status sent; 0 when the connection was dropped before an answer. */
  status: number;
  /** Request body bytes received. */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  durationMs: number;
  /** False when the response was cut short (truncate / reset / hang) or the client went away. */
  completed: boolean;
  /** The fault injected into this request, if any. */
  fault?: FaultType;
  error?: string;
}

export interface CacheEntryInfo {
  id: number;
  key: string;
  version: string;
  size: number;
  /** ISO time of finalization. */
  createdAt: string;
}

export interface CacheServerStats {
  /** Committed entries in the store (read from disk, so includes other processes' entries). */
  entries: number;
  /** Sum of the committed entries' sizes. */
  totalBytes: number;
  /** Successful upload requests (Put Blob, Put Block, Put Block List). */
  uploads: number;
  /** Archive bytes received by upload requests. */
  bytesUploaded: number;
  /** Download GET requests that started sending a body. */
  downloads: number;
  /** Archive bytes sent by download requests. */
  bytesDownloaded: number;
  /** Protocol requests handled (control endpoints not counted). */
  requests: number;
  faultsInjected: number;
  /** Reservations created but not finalized (this process). */
  pendingUploads: number;
  /** Protocol requests whose connection is still open: neither answered nor given up by the client. */
  openRequests: number;
}

export interface CacheServiceEnv {
  ACTIONS_CACHE_SERVICE_V2: 'true';
  ACTIONS_RESULTS_URL: string;
  ACTIONS_RUNTIME_TOKEN: string;
  GITHUB_SERVER_URL: 'https://github.com';
  [name: string]: string;
}

export interface CacheServer {
  /** Base URL with a trailing slash (the value for ACTIONS_RESULTS_URL). */
  readonly url: string;
  readonly port: number;
  /** Absolute storage directory. */
  readonly dir: string;
  /** The environment variables @actions/cache needs to use this service. */
  env(): CacheServiceEnv;
  /** Replaces the active faults (validated; throws TypeError on a bad fault). */
  setFaults(faults: Fault[]): void;
  /** Appends to the active faults. */
  addFaults(faults: Fault[]): void;
  clearFaults(): void;
  /** Lets every unfinished reservation lapse now, as an abandoned one does after a while. */
  lapseReservations(): void;
  /** Active faults, with remaining `times` and `hits`. */
  faults(): ActiveFault[];
  log(): LogRecord[];
  stats(): CacheServerStats;
  /** Committed entries, oldest first. */
  entries(): CacheEntryInfo[];
  /** Deletes the committed entries with these keys, as the service's eviction does; returns them. */
  evict(keys: string[]): CacheEntryInfo[];
  /** Clears the request log and the traffic counters (entries and faults are kept). */
  resetLog(): void;
  /** resetLog + clearFaults; with `{ entries: true }` also deletes all stored entries. */
  reset(options?: { entries?: boolean }): void;
  /** Stops listening, drops open connections and pending injected delays. */
  close(): Promise<void>;
}

export interface StartCacheServerOptions {
  /** Storage directory (created if missing). Required. */
  dir: string;
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** ACTIONS_RUNTIME_TOKEN value handed out by env(); any bearer token is accepted. */
  token?: string;
  /** An unfinished reservation blocks its key until this long after its last request (default 30 s). */
  reservationLapseMs?: number;
}

export function startCacheServer(options: StartCacheServerOptions): Promise<CacheServer>;

/** Validates and fills in defaults of one fault description (throws TypeError). */
export function normalizeFault(fault: unknown): Fault;
