// Phase: restore the layer cache from the Actions cache service.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { RunPlan } from '../plan.js';
import { restoreLayerCache } from '../cache/store.js';
import type { CacheHit, RestoreOutcome } from '../cache/store.js';
import { actionsCacheService, defaultPolicy, isCacheServiceAvailable, newStats, withCacheRoot } from '../cache/service.js';
import type { ServiceStats } from '../cache/service.js';
import { saveLayerCache } from '../cache/store.js';
import type { SaveOutcome } from '../cache/store.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';
import type { Report } from '../report.js';

export function cacheTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.OBC_CACHE_TIMEOUT_SECONDS);
  return (Number.isFinite(v) && v > 0 ? v : 600) * 1000;
}

/** Restores the cache; returns the hit kind. Sets plan.build.cacheFrom when a layout is ready. */
export async function restorePhase(plan: RunPlan, state: PostState, report: Report): Promise<CacheHit> {
  const c = plan.cache;
  if (!c) return 'disabled';
  const started = Date.now();
  const stats = newStats();
  const available = isCacheServiceAvailable();
  const outcome: RestoreOutcome | undefined = await core.group('Restore layer cache', async () => {
    if (!available) {
      core.warning('Layer cache: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL); building without cache.');
      return undefined;
    }
    const o = await withCacheRoot(c.paths.store, async () => {
      const svc = await actionsCacheService(c.paths.store, defaultPolicy(cacheTimeoutMs()), stats);
      try {
        return await restoreLayerCache(svc, c.paths, c.keys);
      } finally {
        svc.close();
      }
    });
    core.info(`Layer cache: ${o.hit}, ${o.bytesRestored} bytes from ${o.entriesRestored} entries in ${Date.now() - started} ms.`);
    return o;
  });
  const hit = outcome?.hit ?? 'miss';
  if (outcome?.layoutReady) plan.build.cacheFrom = c.paths.layoutIn;
  await fs.mkdir(path.dirname(c.paths.layoutOut), { recursive: true });
  const d = plan.decisions;
  state.cache = {
    save: d.saveCache && available,
    saveSkipReason: d.saveCache ? undefined : d.saveReason,
    scope: c.scope,
    keys: c.keys,
    paths: c.paths,
    hit,
    held: outcome?.held ?? {},
    bytesRestored: outcome?.bytesRestored ?? 0,
    restoreMs: Date.now() - started,
  };
  saveState(state);
  if (!d.saveCache) core.info(`Layer cache will not be saved (${d.saveReason}).`);
  report.cache = {
    hit,
    bytesRestored: outcome?.bytesRestored ?? 0,
    entriesRestored: outcome?.entriesRestored ?? 0,
    restoreMs: Date.now() - started,
    saveReason: d.saveCache ? undefined : d.saveReason,
  };
  return hit;
}

/** Saves the layer cache in post; never throws. */
export async function savePhase(c: NonNullable<PostState['cache']>): Promise<{ outcome?: SaveOutcome; stats: ServiceStats; ms: number }> {
  const stats = newStats();
  const started = Date.now();
  try {
    const outcome = await withCacheRoot(c.paths.store, async () => {
      const svc = await actionsCacheService(c.paths.store, defaultPolicy(cacheTimeoutMs()), stats);
      try {
        return await saveLayerCache(svc, c.paths, c.keys, c.scope, c.held);
      } finally {
        svc.close();
      }
    });
    if (!outcome.saved) core.info(`Layer cache not saved: ${outcome.reason}.`);
    core.info(`Layer cache save: ${outcome.entriesSaved} entries, ${outcome.bytesSaved} bytes, ${Date.now() - started} ms.`);
    return { outcome, stats, ms: Date.now() - started };
  } catch (err) {
    core.warning(`Layer cache: saving failed: ${(err as Error).message}`);
    return { stats, ms: Date.now() - started };
  }
}
