// Phase: restore the layer cache from the Actions cache service.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { RunPlan } from '../plan.js';
import { restoreLayerCache } from '../cache/store.js';
import type { CacheHit, RestoreOutcome } from '../cache/store.js';
import { actionsCacheService, isCacheServiceAvailable, withCacheRoot } from '../cache/service.js';
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
  const stats = { calls: 0, failures: 0, ms: 0, uploads: 0 };
  const available = isCacheServiceAvailable();
  const outcome: RestoreOutcome | undefined = await core.group('Restore layer cache', async () => {
    if (!available) {
      core.warning('Layer cache: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL); building without cache.');
      return undefined;
    }
    const o = await withCacheRoot(c.paths.store, async () => {
      const svc = await actionsCacheService(c.paths.store, cacheTimeoutMs(), stats);
      return restoreLayerCache(svc, c.paths, c.keys);
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
