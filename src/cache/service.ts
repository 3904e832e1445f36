// The Actions cache service as the layer cache sees it: restore and save of entries, with a time
// limit on every call. Faults never escape: a failed call is a miss or a failed save, with a warning.
import * as core from '@actions/core';

export interface CacheService {
  /** The matched key, or undefined on a miss or a fault. */
  restore(paths: string[], key: string, restoreKeys: string[], opts?: { lookupOnly?: boolean }): Promise<string | undefined>;
  /** True when the entry was stored. */
  save(paths: string[], key: string): Promise<boolean>;
}

export interface ServiceStats {
  calls: number;
  failures: number;
  ms: number;
  uploads: number;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)}s`)), ms);
    timer.unref();
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** The real service through the unmodified @actions/cache package. */
export async function actionsCacheService(timeoutMs: number, stats: ServiceStats): Promise<CacheService> {
  const cache = await import('@actions/cache');
  const timed = async <T>(what: string, fn: () => Promise<T>, onFault: T): Promise<T> => {
    const start = Date.now();
    stats.calls++;
    try {
      return await withTimeout(fn(), timeoutMs, what);
    } catch (err) {
      stats.failures++;
      core.warning(`Layer cache: ${what} failed: ${(err as Error).message}`);
      return onFault;
    } finally {
      stats.ms += Date.now() - start;
    }
  };
  return {
    restore: (paths, key, restoreKeys, opts) =>
      timed(`restore of ${key}`, () => cache.restoreCache(paths, key, restoreKeys, { lookupOnly: opts?.lookupOnly ?? false }), undefined),
    save: (paths, key) =>
      timed(
        `save of ${key}`,
        async () => {
          stats.uploads++;
          const id = await cache.saveCache(paths, key);
          if (id === -1) stats.failures++;
          return id !== -1;
        },
        false,
      ),
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
