// The Actions cache service as the layer cache sees it: restore and save of entries, with a time
// limit on every call, Retry-After honoured within a bounded budget, and a breaker that stops
// talking to a failing service. Faults never escape: a failed call is a miss or a failed save.
import * as path from 'node:path';
import * as core from '@actions/core';

export interface CacheService {
  /** The matched key, or undefined on a miss or a fault. */
  restore(paths: string[], key: string, restoreKeys: string[], opts?: { lookupOnly?: boolean }): Promise<string | undefined>;
  /** True when the entry was stored. */
  save(paths: string[], key: string): Promise<boolean>;
  /** True when a save of `key` in this run was refused because the service holds or is creating it. */
  wasTaken?(key: string): boolean;
  /** True once the service has failed often enough that this run stopped using it. */
  readonly gaveUp: boolean;
  /** What the service last answered when a call failed, for messages that name the fault. */
  readonly lastFault?: string;
}

export interface ServiceStats {
  calls: number;
  failures: number;
  ms: number;
  uploads: number;
  rateLimited: number;
  waitedMs: number;
}

export function newStats(): ServiceStats {
  return { calls: 0, failures: 0, ms: 0, uploads: 0, rateLimited: 0, waitedMs: 0 };
}

export interface ServicePolicy {
  /** Time limit of one call. */
  timeoutMs: number;
  /** Longest single Retry-After this run waits for. */
  maxRetryAfterMs: number;
  /** Total time this run may spend waiting for rate limits. */
  waitBudgetMs: number;
  /** Faults after which the run stops using the service. */
  maxFaults: number;
}

export function defaultPolicy(timeoutMs: number): ServicePolicy {
  return { timeoutMs, maxRetryAfterMs: 30_000, waitBudgetMs: 60_000, maxFaults: 3 };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)}s`)), ms);
    timer.unref();
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
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

/**
 * Watches this process's stdout for what @actions/cache says while a call runs: it reports
 * rate limits (with Retry-After) and failures only as log lines, and returns -1 or undefined.
 */
function watchStdout(onSignal: (s: ServiceSignal) => void): () => void {
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: any, ...rest: any[]) => {
    try {
      if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
        const text = String(chunk);
        for (const line of text.split('\n')) {
          const s = classifyLine(line);
          if (s) onSignal(s);
        }
        const demoted = demoteCacheErrors(text);
        if (demoted !== text) chunk = demoted;
      }
    } catch {
      /* never break logging */
    }
    return original(chunk, ...rest);
  }) as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
  };
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The real service through the unmodified @actions/cache package. Paths are given absolute and
 * handed to @actions/cache relative to `root` (call inside withCacheRoot(root, ...)).
 */
export async function actionsCacheService(root: string, policy: ServicePolicy, stats: ServiceStats): Promise<CacheService & { close(): void }> {
  const cache = await import('@actions/cache');
  const rel = (paths: string[]) => paths.map((p) => path.relative(root, p).split(path.sep).join('/'));
  let seq = 0;
  const signals: { seq: number; s: ServiceSignal }[] = [];
  const taken = new Set<string>();
  const unwatch = watchStdout((s) => {
    if (s.kind === 'taken') taken.add(s.key);
    signals.push({ seq: ++seq, s });
  });
  let faults = 0;
  let gaveUp = false;
  let lastFault: string | undefined;
  const giveUp = (why: string) => {
    if (gaveUp) return;
    gaveUp = true;
    core.warning(`Layer cache: giving up on the cache service for this run (${why}); the build goes on without it.`);
  };

  async function call<T>(what: string, fn: () => Promise<T>, failed: (v: T) => boolean, onFault: T, retriable: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (gaveUp) return onFault;
      const mark = seq;
      const start = Date.now();
      stats.calls++;
      let value: T;
      try {
        value = await withTimeout(fn(), policy.timeoutMs, what);
      } catch (err) {
        value = onFault;
        core.warning(`Layer cache: ${what} failed: ${(err as Error).message}`);
        signals.push({ seq: ++seq, s: { kind: 'fault', shown: true, message: (err as Error).message } });
      } finally {
        stats.ms += Date.now() - start;
      }
      const seen = signals.filter((x) => x.seq > mark).map((x) => x.s);
      const rate = seen.find((s): s is Extract<ServiceSignal, { kind: 'rate-limit' }> => s.kind === 'rate-limit');
      if (rate) {
        stats.rateLimited++;
        const ms = Math.max(rate.retryAfterMs, 1000);
        if (!retriable || attempt > 0) return value;
        if (ms > policy.maxRetryAfterMs || stats.waitedMs + ms > policy.waitBudgetMs) {
          giveUp(`rate limited, Retry-After ${Math.round(ms / 1000)}s exceeds what this run waits`);
          return value;
        }
        core.info(`Layer cache: rate limited; waiting ${Math.round(ms / 1000)}s as the service asks, then retrying ${what}.`);
        stats.waitedMs += ms;
        await wait(ms);
        continue;
      }
      if (failed(value) && seen.some((s) => s.kind === 'fault')) {
        stats.failures++;
        for (const f of seen) if (f.kind === 'fault' && f.message) lastFault = f.message;
        lastFault ??= 'it kept answering with errors';
        if (!seen.some((s) => s.kind === 'fault' && s.shown)) core.warning(`Layer cache: ${what} failed: the cache service kept answering with errors.`);
        if (++faults >= policy.maxFaults) giveUp(`${faults} failed calls`);
      }
      return value;
    }
  }

  return {
    get gaveUp() {
      return gaveUp;
    },
    get lastFault() {
      return lastFault;
    },
    restore: (paths, key, restoreKeys, opts) =>
      call(
        `restore of ${key}`,
        () => cache.restoreCache(rel(paths), key, restoreKeys, { lookupOnly: opts?.lookupOnly ?? false }),
        (v) => v === undefined,
        undefined,
        true,
      ),
    wasTaken: (key) => taken.has(key),
    save: (paths, key) =>
      call(
        `save of ${key}`,
        async () => {
          stats.uploads++;
          return (await cache.saveCache(rel(paths), key)) !== -1;
        },
        (v) => !v,
        false,
        true,
      ),
    close: unwatch,
  };
}

export function isCacheServiceAvailable(): boolean {
  return !!(process.env.ACTIONS_RESULTS_URL || process.env.ACTIONS_CACHE_URL);
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}
