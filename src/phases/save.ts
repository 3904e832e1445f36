// Phase (post): save the layer cache after a successful build. Returns what it did; writing the job
// summary is post's.
import * as core from '@actions/core';
import { NOTHING_CHANGED, saveLayerCache } from '../cache/store.js';
import type { SaveOutcome } from '../cache/store.js';
import { CacheFormatError } from '../cache/layout.js';
import { actionsCacheService, newStats, withCacheRoot } from '../cache/service.js';
import type { CachePhase, ServiceStats } from '../cache/service.js';
import { checkExport } from '../cache/verify.js';
import type { PostState } from '../state.js';
import { saveSummaryFrom } from '../summary.js';
import type { SaveSummary } from '../summary.js';

const BLOB_ZSTD_LEVEL = 1;

/**
 * Post: the layer cache's log group. Saves it when main's build succeeded, the run was not
 * cancelled and the cache is to be saved; returns the summary's save part (undefined when the
 * layer cache was off). Never throws.
 */
export async function saveCachePhase(state: Readonly<PostState>, phase: CachePhase): Promise<SaveSummary | undefined> {
  const c = state.cache;
  if (!c) return undefined;
  return core.group('Save layer cache', async (): Promise<SaveSummary> => {
    const skipped = (reason: string): SaveSummary => ({ saved: false, entriesSaved: 0, bytesSaved: 0, ms: 0, reason });
    if (state.cancelled) {
      core.info(`Layer cache not saved: the run was cancelled (${state.cancelled}).`);
      return skipped('the run was cancelled');
    }
    if (!state.buildSucceeded) {
      core.info('Layer cache not saved: the build did not succeed.');
      return skipped('the build did not succeed');
    }
    if (!c.save) {
      core.info(`Layer cache not saved (${c.saveSkipReason ?? 'not enabled'}).`);
      return skipped(c.saveSkipReason ?? 'not enabled');
    }
    return saveSummaryFrom(await savePhase(c, phase), c.keys.primary);
  });
}

/** Saves the layer cache in post; never throws. */
export async function savePhase(
  c: NonNullable<PostState['cache']>,
  phase: CachePhase,
): Promise<{ outcome?: SaveOutcome; failure?: string; stats: ServiceStats; ms: number }> {
  const stats = newStats();
  const started = Date.now();
  if (c.unchanged) {
    // Main compared the export with the restored cache already: no need to read it again.
    core.info(`Layer cache not saved: ${NOTHING_CHANGED}.`);
    return { outcome: { saved: false, reason: NOTHING_CHANGED, entriesSaved: 0, bytesSaved: 0, newBlobs: 0 }, stats, ms: 0 };
  }
  if (c.exportDigest) {
    // Only what this build exported, as BuildKit reported it, and unchanged since main.
    const why = await checkExport(c.paths.layoutOut, c.exportDigest, new Set(Object.keys(c.held)));
    if (why) {
      const failure = `this build's cache export changed after the build: ${why}`;
      core.warning(`Layer cache: not saved: ${failure}.`);
      return { failure, stats, ms: Date.now() - started };
    }
  }
  try {
    const outcome = await withCacheRoot(c.paths.store, async () => {
      // Layer blobs are compressed already (gzip or zstd): zstd's level 1 takes a third less time than
      // its default and makes them no larger.
      const svc = await actionsCacheService(c.paths.store, phase, stats, { zstdLevel: BLOB_ZSTD_LEVEL });
      try {
        return await saveLayerCache(svc, c.paths, c.keys, c.scope, c.held, c.buildMs);
      } finally {
        svc.close();
      }
    });
    if (!outcome.saved) core.info(`Layer cache not saved: ${outcome.reason}.`);
    core.info(`Layer cache save: ${outcome.entriesSaved} entries, ${outcome.bytesSaved} bytes, ${Date.now() - started} ms.`);
    return { outcome, stats, ms: Date.now() - started };
  } catch (err) {
    const failure = saveFailure(err);
    core.warning(`Layer cache: not saved: ${failure}`);
    return { failure, stats, ms: Date.now() - started };
  }
}

/** Names what failed in a save that threw: the export's format, or the step's own files. */
export function saveFailure(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof CacheFormatError) return `this action could not read the build's cache export: ${msg}`;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return `the runner's disk is full: ${msg}`;
  if (code) return `a file of the cache export could not be read or written (${code}): ${msg}`;
  return `an unexpected error while saving: ${msg}`;
}
