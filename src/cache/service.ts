// The Actions cache service as the layer cache sees it: restore and save of entries, with a time
// limit on every call. Faults never escape: a failed call is a miss or a failed save, with a warning.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
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

/**
 * Runs `fn` with the working directory and GITHUB_WORKSPACE set to `root`. @actions/cache makes
 * archive paths relative to GITHUB_WORKSPACE and mixes the paths it was given into each entry's
 * version; with paths given relative to a fixed root, versions do not depend on where RUNNER_TEMP
 * is, so runners with different layouts share entries.
 */
export async function withCacheRoot<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const cwd = process.cwd();
  const ws = process.env.GITHUB_WORKSPACE;
  await fs.mkdir(root, { recursive: true });
  process.chdir(root);
  process.env.GITHUB_WORKSPACE = root;
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
    if (ws === undefined) delete process.env.GITHUB_WORKSPACE;
    else process.env.GITHUB_WORKSPACE = ws;
  }
}

/**
 * The real service through the unmodified @actions/cache package. Paths are given absolute and
 * handed to @actions/cache relative to `root` (call inside withCacheRoot(root, ...)).
 */
export async function actionsCacheService(root: string, timeoutMs: number, stats: ServiceStats): Promise<CacheService> {
  const cache = await import('@actions/cache');
  const rel = (paths: string[]) => paths.map((p) => path.relative(root, p).split(path.sep).join('/'));
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
      timed(`restore of ${key}`, () => cache.restoreCache(rel(paths), key, restoreKeys, { lookupOnly: opts?.lookupOnly ?? false }), undefined),
    save: (paths, key) =>
      timed(
        `save of ${key}`,
        async () => {
          stats.uploads++;
          const id = await cache.saveCache(rel(paths), key);
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
