// The Actions cache service as the layer cache sees it: restore and save of entries. Every call has
// a deadline, and a call that reaches it is really abandoned: the requests and sockets it opened
// (found through node:diagnostics_channel, attributed to the call through AsyncLocalStorage) are
// destroyed, so nothing of it keeps the process alive or writes to the store later. All calls of one
// step's cache phase share one time budget and one breaker (CachePhase). Retry-After is honoured
// within a bounded budget. Faults never escape: a failed call is a miss or a failed save.
import * as path from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import * as core from '@actions/core';

export interface CacheService {
  /** The matched key, or undefined on a miss or a fault. */
  restore(paths: string[], key: string, restoreKeys: string[], opts?: { lookupOnly?: boolean }): Promise<string | undefined>;
  /** True when the entry was stored. */
  save(paths: string[], key: string): Promise<boolean>;
  /** True when a save of `key` in this run was refused because the service holds or is creating it. */
  wasTaken?(key: string): boolean;
  /** True once this step's cache phase stopped using the service (it kept failing, or its budget is spent). */
  readonly gaveUp: boolean;
  /** What the service last answered when a call failed, for messages that name the fault. */
  readonly lastFault?: string;
}

export interface ServiceStats {
  /** Time spent in calls to the service (the summary's restore time). */
  ms: number;
}

export function newStats(): ServiceStats {
  return { ms: 0 };
}

export interface ServicePolicy {
  /** Time limit of one call. */
  callMs: number;
  /** Time limit of the whole cache phase of a step: the time during which any call is in flight or waited for. */
  budgetMs: number;
  /** Longest single Retry-After this run waits for. */
  maxRetryAfterMs: number;
  /** Total time this run may spend waiting for rate limits. */
  waitBudgetMs: number;
  /** Failed calls after which the phase stops using the service. */
  maxFaults: number;
  /** Pause before the one retry of a call that failed with a server error. */
  retryPauseMs: number;
}

export const DEFAULT_CALL_SECONDS = 300;
export const DEFAULT_BUDGET_SECONDS = 600;

const seconds = (v: string | undefined, dflt: number) => {
  const n = Number(v);
  return (v !== undefined && v.trim() !== '' && Number.isFinite(n) && n > 0 ? n : dflt) * 1000;
};

/**
 * The limits of the cache calls, from the step's environment: OBC_CACHE_TIMEOUT_SECONDS limits one
 * call, OBC_CACHE_BUDGET_SECONDS the whole cache phase of a step (restore in main, save in post).
 * A value that is not a positive number is ignored.
 */
export function cachePolicy(env: NodeJS.ProcessEnv = process.env): ServicePolicy {
  const budgetMs = seconds(env.OBC_CACHE_BUDGET_SECONDS, DEFAULT_BUDGET_SECONDS);
  return {
    callMs: Math.min(seconds(env.OBC_CACHE_TIMEOUT_SECONDS, DEFAULT_CALL_SECONDS), budgetMs),
    budgetMs,
    maxRetryAfterMs: 30_000,
    waitBudgetMs: 60_000,
    maxFaults: 3,
    retryPauseMs: 1000,
  };
}

/** The cache phase of a step: every call to the service in it shares one budget and one breaker. */
export function newCachePhase(env: NodeJS.ProcessEnv = process.env): CachePhase {
  return new CachePhase(cachePolicy(env));
}

/** How long the next call may take: its own limit, or what is left of the phase's budget. */
export function callLimit(policy: ServicePolicy, remainingMs: number): { ms: number; by: 'call' | 'budget' } {
  return remainingMs < policy.callMs ? { ms: Math.max(0, remainingMs), by: 'budget' } : { ms: policy.callMs, by: 'call' };
}

const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;

/**
 * What the calls of one step's cache phase share: the time budget (time with at least one call in
 * flight or a rate-limit wait running; overlapping calls count once), the breaker and the
 * rate-limit waits. Once stopped, no call of the phase reaches the service.
 */
export class CachePhase {
  faults = 0;
  waitedMs = 0;
  /** Why the phase stopped using the service. */
  stopped?: string;
  private busyMs = 0;
  private active = 0;
  private since = 0;
  constructor(
    readonly policy: ServicePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  spentMs(): number {
    return this.busyMs + (this.active > 0 ? this.now() - this.since : 0);
  }

  remainingMs(): number {
    return Math.max(0, this.policy.budgetMs - this.spentMs());
  }

  /** Starts a stretch of time spent on the service; returns the function that ends it. */
  busy(): () => void {
    if (this.active++ === 0) this.since = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.active === 0) this.busyMs += this.now() - this.since;
    };
  }

  /** Stops using the service for the rest of the phase, with one warning. */
  stop(why: string): void {
    if (this.stopped) return;
    this.stopped = why;
    core.warning(`Layer cache: giving up on the cache service for the rest of this step (${why}); the step goes on without it.`);
  }

  budgetSpent(): string {
    return `the cache phase's time budget of ${secs(this.policy.budgetMs)} is spent`;
  }
}

/** A call given up by this action, before or after its deadline; what its requests are destroyed with. */
class CallAbandoned extends Error {
  code = 'OBC_CACHE_CALL_ABANDONED';
}

/** The error a request of an abandoned call ends with, chosen so that the library does not retry it. */
function abandonError(request: ClientRequest, why: string): Error {
  const err = new CallAbandoned(`abandoned: ${why}`);
  // The Twirp client of @actions/cache retries any error but a network error, and fails at once on
  // those; the Azure storage client retries network errors, and fails at once on an unknown code.
  if (request.path?.startsWith('/twirp/')) err.code = 'ECONNRESET';
  return err;
}

/** One call in flight: the requests and sockets it opened and what its library wrote about it. */
class CallScope {
  readonly requests = new Set<ClientRequest>();
  readonly sockets = new Set<Socket>();
  readonly signals: ServiceSignal[] = [];
  /** Set when the call was abandoned: everything it still opens is destroyed at once. */
  abandoned?: string;
  /** Called on the first server error or network error of one of its requests. */
  onFault?: (why: string) => void;

  adoptRequest(req: ClientRequest): void {
    if (this.abandoned) return destroyRequest(req, this.abandoned);
    this.requests.add(req);
    req.once('close', () => this.requests.delete(req));
  }

  adoptSocket(socket: Socket): void {
    if (this.abandoned) return void socket.destroy();
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  abandon(why: string): void {
    if (this.abandoned) return;
    this.abandoned = why;
    for (const req of this.requests) destroyRequest(req, why);
    for (const socket of this.sockets) socket.destroy();
    this.requests.clear();
    this.sockets.clear();
  }
}

function destroyRequest(req: ClientRequest, why: string): void {
  // Never an unhandled 'error' event: the library may have stopped listening.
  req.on('error', () => undefined);
  req.destroy(abandonError(req, why));
}

/** Server answers after which @actions/cache would retry; this action fails the call at once instead. */
const SERVER_ERRORS = new Set([500, 502, 503, 504]);

interface Tracker {
  als: AsyncLocalStorage<CallScope>;
  scopeOf: WeakMap<ClientRequest, CallScope>;
}
let tracker: Tracker | undefined;

/**
 * Follows every HTTP request and socket opened inside a call (installed on first use). A request
 * belongs to the call whose async context started it; a reused keep-alive socket is reached through
 * its request.
 */
function track(): Tracker {
  if (tracker) return tracker;
  const t: Tracker = { als: new AsyncLocalStorage<CallScope>(), scopeOf: new WeakMap() };
  diagnostics.subscribe('http.client.request.start', (m) => {
    const scope = t.als.getStore();
    const req = (m as { request: ClientRequest }).request;
    if (!scope) return;
    t.scopeOf.set(req, scope);
    scope.adoptRequest(req);
  });
  diagnostics.subscribe('net.client.socket', (m) => t.als.getStore()?.adoptSocket((m as { socket: Socket }).socket));
  diagnostics.subscribe('http.client.response.finish', (m) => {
    const { request, response } = m as { request: ClientRequest; response: IncomingMessage };
    const status = response.statusCode ?? 0;
    if (SERVER_ERRORS.has(status)) t.scopeOf.get(request)?.onFault?.(`the cache service answered ${status}`);
  });
  diagnostics.subscribe('http.client.request.error', (m) => {
    const { request, error } = m as { request: ClientRequest; error: NodeJS.ErrnoException };
    const scope = t.scopeOf.get(request);
    if (scope && !scope.abandoned && !(error instanceof CallAbandoned)) scope.onFault?.(`the request failed: ${error.code ?? error.message}`);
  });
  tracker = t;
  return t;
}

type CallOutcome<T> = { ok: true; value: T } | { ok: false; why: string; deadline: boolean };
export type CallResult<T> = CallOutcome<T> & { signals: ServiceSignal[] };

/**
 * Runs one call of the library with a deadline. The call ends at its deadline or its first server
 * error, whichever comes first; then it is abandoned: its requests and sockets are destroyed, and
 * any it opens later are destroyed at once.
 */
export function runCall<T>(fn: () => Promise<T>, ms: number, deadlineWhy: string): Promise<CallResult<T>> {
  const t = track();
  const scope = new CallScope();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: CallOutcome<T>, abandon?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (abandon) scope.abandon(abandon);
      resolve({ ...r, signals: scope.signals });
    };
    const timer = setTimeout(() => finish({ ok: false, why: deadlineWhy, deadline: true }, deadlineWhy), ms);
    // Not from inside the HTTP parser's callback that reported it.
    scope.onFault = (why) => setImmediate(() => finish({ ok: false, why, deadline: false }, why));
    t.als.run(scope, fn).then(
      (value) => finish({ ok: true, value }),
      (err: unknown) => finish({ ok: false, why: err instanceof Error ? err.message : String(err), deadline: false }, 'it failed'),
    );
  });
}

export { withCacheRoot } from '../workdir.js';

/** What @actions/cache reports about a call, read from the warnings it writes to the log. */
export type ServiceSignal = { kind: 'rate-limit'; retryAfterMs: number } | { kind: 'fault'; shown: boolean; message?: string } | { kind: 'taken'; key: string };

/** Classifies one line @actions/cache wrote. */
export function classifyLine(line: string): ServiceSignal | undefined {
  const rl = /rate limit will reset in (\d+) seconds/.exec(line);
  if (rl) return { kind: 'rate-limit', retryAfterMs: Number(rl[1]) * 1000 };
  if (/Rate limited:/.test(line)) return { kind: 'rate-limit', retryAfterMs: 0 };
  // A refused reservation: the key exists or another job is creating it (not a fault).
  const taken = /^Failed to save: Unable to reserve cache with key (.+?), another job may be creating this cache/.exec(line);
  if (taken) return { kind: 'taken', key: taken[1] };
  // @actions/cache reports every failed reservation as "another job may be creating this cache";
  // only a 409 means that. A reservation that never reached the service is a fault.
  const reserve = /^::debug::Failed to reserve cache: (.*)$/.exec(line);
  if (reserve) return /\(409\)/.test(reserve[1]) ? undefined : { kind: 'fault', shown: false, message: reserve[1].trim() };
  const failed = /^::(warning|error)::Failed to (restore|save): (.*)$/.exec(line);
  if (failed) return { kind: 'fault', shown: true, message: failed[3].trim() };
  // Retries are logged as plain info lines; when they run out, a failed save may be reported as
  // info only ("Unable to reserve cache"), so the retries are what marks the call as faulted.
  if (/^Attempt \d+ of \d+ failed with error: /.test(line)) return { kind: 'fault', shown: false };
  return undefined;
}

/**
 * @actions/cache reports a 5xx from the cache service as an error annotation; for this action a
 * cache fault is never an error of the build, so it becomes a warning.
 */
export function demoteCacheErrors(chunk: string): string {
  return chunk.replace(/^::error::Failed to (restore|save): /gm, '::warning::Layer cache: failed to $1: ');
}

/** What a call abandoned by this action still writes: its warnings and errors become plain lines. */
export function muteAbandoned(chunk: string): string {
  return chunk.replace(/^::(warning|error)::/gm, 'Layer cache (abandoned call): ');
}

/**
 * Watches this process's stdout for what @actions/cache says during a call: it reports rate limits
 * (with Retry-After) and failures only as log lines, and returns -1 or undefined. Each line goes to
 * the call whose async context wrote it. Installed while any service is open.
 */
let watchers = 0;
let originalWrite: typeof process.stdout.write | undefined;
function watchStdout(als: AsyncLocalStorage<CallScope>): () => void {
  if (watchers++ === 0) {
    const original = process.stdout.write.bind(process.stdout);
    originalWrite = process.stdout.write;
    process.stdout.write = ((chunk: any, ...rest: any[]) => {
      const scope = als.getStore();
      try {
        if (scope && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
          const text = String(chunk);
          if (!scope.abandoned) {
            for (const line of text.split('\n')) {
              const s = classifyLine(line);
              if (s) scope.signals.push(s);
            }
          }
          const shown = scope.abandoned ? muteAbandoned(text) : demoteCacheErrors(text);
          if (shown !== text) chunk = shown;
        }
      } catch {
        /* never break logging */
      }
      return original(chunk, ...rest);
    }) as typeof process.stdout.write;
  }
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    if (--watchers === 0 && originalWrite) {
      process.stdout.write = originalWrite;
      originalWrite = undefined;
    }
  };
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the calls of one service share: the phase, the stats, what the service refused and its last fault. */
interface ServiceRun {
  phase: CachePhase;
  stats: ServiceStats;
  /** Keys whose save was refused because the service holds or is creating them. */
  taken: Set<string>;
  lastFault?: string;
}

/** Counts a failed call; the breaker stops the phase after maxFaults. */
function fault(s: ServiceRun, message: string): void {
  s.lastFault = message;
  if (++s.phase.faults >= s.phase.policy.maxFaults) s.phase.stop(`${s.phase.faults} failed calls`);
}

/** A wait that counts as time spent on the service. */
async function pause(s: ServiceRun, ms: number): Promise<void> {
  const end = s.phase.busy();
  s.phase.waitedMs += ms;
  try {
    await wait(ms);
  } finally {
    end();
  }
}

/** One attempt of a call within what is left of the phase; undefined when no time is left (the phase stops). */
async function attempt<T>(s: ServiceRun, what: string, fn: () => Promise<T>): Promise<{ r: CallResult<T>; by: 'call' | 'budget' } | undefined> {
  const { phase, stats } = s;
  if (phase.stopped) return undefined;
  const limit = callLimit(phase.policy, phase.remainingMs());
  if (limit.ms <= 0) {
    phase.stop(phase.budgetSpent());
    return undefined;
  }
  const deadlineWhy = limit.by === 'call' ? `${what} took longer than ${secs(limit.ms)}` : `${what} was still running when ${phase.budgetSpent()}`;
  const start = Date.now();
  const end = phase.busy();
  const r = await runCall(fn, limit.ms, deadlineWhy);
  end();
  stats.ms += Date.now() - start;
  if (!r.signals.some((x) => x.kind === 'fault')) for (const x of r.signals) if (x.kind === 'taken') s.taken.add(x.key);
  return { r, by: limit.by };
}

/** A call that succeeded but was rate limited: true to try it again after the wait the service asked for. */
async function waitForRateLimit(s: ServiceRun, retryAfterMs: number, tries: number, what: string): Promise<boolean> {
  const { phase } = s;
  const policy = phase.policy;
  const ms = Math.max(retryAfterMs, 1000);
  if (tries > 0) return false;
  if (ms > policy.maxRetryAfterMs || phase.waitedMs + ms > policy.waitBudgetMs || ms >= phase.remainingMs()) {
    phase.stop(`rate limited, Retry-After ${Math.round(ms / 1000)}s exceeds what this run waits`);
    return false;
  }
  core.info(`Layer cache: rate limited; waiting ${Math.round(ms / 1000)}s as the service asks, then retrying ${what}.`);
  await pause(s, ms);
  return true;
}

/** A call that failed (or reached its deadline): true to try it once more after a pause. */
async function retryAfterFailure(
  s: ServiceRun,
  r: { why: string; deadline: boolean },
  by: 'call' | 'budget',
  tries: number,
  verb: string,
  key: string,
): Promise<boolean> {
  const { phase } = s;
  core.warning(r.deadline ? `Layer cache: ${r.why}; abandoned it.` : `Layer cache: failed to ${verb} ${key}: ${r.why}`);
  fault(s, r.why);
  if (r.deadline && by === 'budget') phase.stop(phase.budgetSpent());
  // A server error may be a blip: one more try, unless the phase stopped or time is short.
  if (r.deadline || tries > 0 || phase.stopped || phase.remainingMs() <= phase.policy.retryPauseMs) return false;
  core.info(`Layer cache: trying ${verb} of ${key} once more in ${secs(phase.policy.retryPauseMs)}.`);
  await pause(s, phase.policy.retryPauseMs);
  return true;
}

/** A call that returned its failed value: counts the faults the library only logged. */
function noteLoggedFaults(s: ServiceRun, signals: ServiceSignal[], verb: string, key: string): void {
  const faults = signals.filter((x): x is Extract<ServiceSignal, { kind: 'fault' }> => x.kind === 'fault');
  if (!faults.length) return;
  if (!faults.some((f) => f.shown)) core.warning(`Layer cache: failed to ${verb} ${key}: the cache service kept answering with errors.`);
  fault(
    s,
    faults
      .map((f) => f.message)
      .filter(Boolean)
      .pop() ?? 'it kept answering with errors',
  );
}

/** One call of the library: with its deadline, a wait for a rate limit, one retry after a server error. */
async function serviceCall<T>(s: ServiceRun, verb: 'restore' | 'save', key: string, fn: () => Promise<T>, failed: (v: T) => boolean, onFault: T): Promise<T> {
  const what = `${verb} of ${key}`;
  for (let tries = 0; ; tries++) {
    const a = await attempt(s, what, fn);
    if (!a) return onFault;
    const { r } = a;
    const rate = r.signals.find((x): x is Extract<ServiceSignal, { kind: 'rate-limit' }> => x.kind === 'rate-limit');
    if (r.ok && rate) {
      if (await waitForRateLimit(s, rate.retryAfterMs, tries, what)) continue;
      return r.value;
    }
    if (!r.ok) {
      if (await retryAfterFailure(s, r, a.by, tries, verb, key)) continue;
      return onFault;
    }
    if (failed(r.value)) noteLoggedFaults(s, r.signals, verb, key);
    return r.value;
  }
}

/** What a service's archives are for: layer blobs are compressed already, so zstd's fastest level loses nothing. */
export interface ServiceOptions {
  /** zstd level of this service's archives (ZSTD_CLEVEL, which tar's zstd reads), unless the job sets ZSTD_CLEVEL. */
  zstdLevel?: number;
}

/**
 * The real service through the unmodified @actions/cache package. Paths are given absolute and
 * handed to @actions/cache relative to `root` (call inside withCacheRoot(root, ...)). Every service
 * of one step's cache phase is given the same `phase`.
 */
export async function actionsCacheService(
  root: string,
  phase: CachePhase,
  stats: ServiceStats,
  opts: ServiceOptions = {},
): Promise<CacheService & { close(): void }> {
  const cache = await import('@actions/cache');
  // @actions/cache runs tar with this process's environment; the job's own ZSTD_CLEVEL wins.
  const setLevel = opts.zstdLevel !== undefined && process.env.ZSTD_CLEVEL === undefined;
  if (setLevel) process.env.ZSTD_CLEVEL = String(opts.zstdLevel);
  const rel = (paths: string[]) => paths.map((p) => path.relative(root, p).split(path.sep).join('/'));
  const t = track();
  const unwatch = watchStdout(t.als);
  const s: ServiceRun = { phase, stats, taken: new Set() };
  return {
    get gaveUp() {
      return phase.stopped !== undefined;
    },
    get lastFault() {
      return s.lastFault;
    },
    wasTaken: (key) => s.taken.has(key),
    restore: (paths, key, restoreKeys, opts) =>
      serviceCall(
        s,
        'restore',
        key,
        () => cache.restoreCache(rel(paths), key, restoreKeys, { lookupOnly: opts?.lookupOnly ?? false }),
        (v) => v === undefined,
        undefined,
      ),
    save: (paths, key) =>
      serviceCall(
        s,
        'save',
        key,
        async () => (await cache.saveCache(rel(paths), key)) !== -1,
        (v) => !v,
        false,
      ),
    close: () => {
      unwatch();
      if (setLevel) delete process.env.ZSTD_CLEVEL;
    },
  };
}

export function isCacheServiceAvailable(): boolean {
  return !!(process.env.ACTIONS_RESULTS_URL || process.env.ACTIONS_CACHE_URL);
}
