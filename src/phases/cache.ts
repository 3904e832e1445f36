// Phase: restore the layer cache from the Actions cache service.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { RunPlan } from '../plan.js';
import { NOTHING_CHANGED, compareExport, openLazyCache, restoreLayerCache } from '../cache/store.js';
import { startCacheProxy } from '../cache/proxy.js';
import { CacheFormatError, localCacheFrom } from '../cache/layout.js';
import type { CacheHit, RestoreOutcome } from '../cache/store.js';
import { CachePhase, actionsCacheService, cachePolicy, isCacheServiceAvailable, newStats, withCacheRoot } from '../cache/service.js';
import type { ServiceStats } from '../cache/service.js';
import { saveLayerCache } from '../cache/store.js';
import type { SaveOutcome } from '../cache/store.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';
import type { Report } from '../report.js';
import { restoreMountsPhase } from '../cache/mounts.js';
import type { CacheAccess, FetchMode } from '../cache/access.js';
import { writeCredential } from '../docker/login.js';
import { checkExport, namedExportMismatch } from '../cache/verify.js';

/** The cache phase of a step: every call to the service in it shares one budget and one breaker. */
export function newCachePhase(env: NodeJS.ProcessEnv = process.env): CachePhase {
  return new CachePhase(cachePolicy(env));
}

/**
 * The layer cache while the build runs. With lazy fetching, a loopback registry serves the cache to
 * BuildKit and fetches blobs from the service on demand; `recover` lets a build that failed on a
 * blob the service could not deliver run again without it.
 */
export interface CacheSession {
  hit: CacheHit;
  /** Prepares a retry after a failed build; false when the failure was not the cache's. */
  recover(): Promise<boolean>;
  /**
   * Stops the proxy and records what was restored; call after the build, with the digest of the
   * cache export BuildKit reported in the metadata file (undefined when the build failed).
   */
  close(reported?: string): Promise<void>;
}

const noSession = (hit: CacheHit): CacheSession => ({ hit, recover: async () => false, close: async () => undefined });

/**
 * Keeps the export only when it is the one BuildKit reported (see verify.ts); otherwise removes it
 * so post saves nothing. Returns the digest post must find again, when there is one.
 */
async function acceptExport(dir: string, reported: string | undefined, received: string | undefined): Promise<string | undefined> {
  // BuildKit releases that do not report the export: the loopback registry's record of it.
  const expected = reported ?? received;
  if (!expected) return undefined;
  const why = await namedExportMismatch(dir, expected);
  if (!why) return expected;
  core.warning(`Layer cache: this build's cache export is not saved: ${why}.`);
  await fs.rm(dir, { recursive: true, force: true });
  return undefined;
}

/** Says, once, why the cache is fetched eagerly; a warning when lazy fetching was asked for. */
function explainFetch(mode: FetchMode, access: CacheAccess): void {
  if (access.lazy || !access.eagerReason || mode === 'eager') return;
  if (mode === 'lazy') core.warning(`cache-fetch: lazy is not possible with this builder (${access.eagerReason}); fetching every cached layer before the build instead.`);
  else core.info(`Layer cache: fetching eagerly, because ${access.eagerReason}.`);
}

/** Restores the cache before the build: the index (lazy) or everything (eager). */
export async function restorePhase(plan: RunPlan, state: PostState, report: Report, mode: FetchMode, access: CacheAccess): Promise<CacheSession> {
  const c = plan.cache;
  if (!c) return noSession('disabled');
  const started = Date.now();
  const stats = newStats();
  const phase = newCachePhase();
  const available = isCacheServiceAvailable();
  const d = plan.decisions;
  const lazy = access.lazy;
  // A builder that can use no layer cache: nothing to restore or save, and the log says why.
  const save = d.saveCache && !access.off;
  const saveReason = !d.saveCache ? d.saveReason : access.off;
  if (access.off) {
    core.warning(`Layer cache: not used: ${access.off}.`);
    plan.build.cacheTo = undefined;
    plan.build.cacheExportDir = undefined;
  }
  await fs.mkdir(path.dirname(c.paths.layoutOut), { recursive: true });

  let outcome: RestoreOutcome | undefined;
  let session: CacheSession = noSession('miss');
  let unchanged: boolean | undefined;
  /**
   * After the build: `exact` when the build made nothing the restored cache lacked (post will save
   * nothing), `partial` when it restored a cache but made new layers.
   */
  let exportDigest: string | undefined;
  const judge = async (reported: string | undefined, received?: string) => {
    if (save) exportDigest = await acceptExport(c.paths.layoutOut, reported, received);
    if (session.hit !== 'exact' && session.hit !== 'partial') return;
    try {
      const cmp = await compareExport(c.paths, outcome?.held ?? {});
      if (!cmp) return;
      session.hit = cmp.unchanged ? 'exact' : 'partial';
      unchanged = cmp.unchanged;
      if (cmp.unchanged) core.info('Layer cache: the build made no layer the cache lacks; nothing new will be saved.');
    } catch (err) {
      core.warning(`Layer cache: could not read this build's cache export: ${(err as Error).message}`);
    }
  };
  const record = () => {
    state.cache = {
      save: save && available,
      saveSkipReason: save ? undefined : saveReason,
      scope: c.scope,
      keys: c.keys,
      paths: c.paths,
      held: outcome?.held ?? {},
      unchanged,
      exportDigest,
    };
    saveState(state);
    report.cache = {
      hit: session.hit,
      bytesRestored: outcome?.bytesRestored ?? 0,
      entriesRestored: outcome?.entriesRestored ?? 0,
      restoreMs: stats.ms,
      saveReason: save ? undefined : saveReason,
      coldBuildMs: outcome?.coldBuildMs,
      unchanged,
    };
  };

  await core.group('Restore layer cache', async () => {
    if (access.off) return;
    if (!available) {
      core.warning('Layer cache: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL); building without cache.');
      return;
    }
    explainFetch(mode, access);
    const svc = await withCacheRoot(c.paths.store, () => actionsCacheService(c.paths.store, phase, stats));
    if (!lazy) {
      try {
        outcome = await withCacheRoot(c.paths.store, () => restoreLayerCache(svc, c.paths, c.keys, access.form));
      } finally {
        svc.close();
      }
      if (outcome.layoutReady) plan.build.cacheFrom = localCacheFrom(c.paths.layoutIn);
      session = { ...noSession(outcome.hit), close: async (reported) => (await judge(reported), record()) };
      core.info(`Layer cache: ${outcome.hit}, ${outcome.bytesRestored} bytes from ${outcome.entriesRestored} entries in ${Date.now() - started} ms.`);
      return;
    }
    const lz = await withCacheRoot(c.paths.store, () => openLazyCache(svc, c.paths, c.keys));
    outcome = lz.outcome;
    const proxy = await startCacheProxy(
      {
        image: lz.image,
        held: lz.held,
        localPath: lz.localPath,
        fetch: (digest) => withCacheRoot(c.paths.store, () => lz.fetch(digest)),
      },
      c.paths.layoutOut,
      { form: access.form },
    );
    // BuildKit gets the registry's credential from buildx, which reads the job's private config.
    const forget = state.dockerConfig ? await writeCredential(state.dockerConfig, proxy.host, proxy.credentials.username, proxy.credentials.password) : async () => undefined;
    plan.build.cacheFrom = proxy.cacheFrom;
    plan.build.cacheTo = proxy.cacheTo;
    plan.build.cacheExportDir = proxy.exportDir;
    let retried = false;
    session = {
      hit: lz.image ? outcome.hit : 'miss',
      recover: async () => {
        if (retried || lz.failed.size === 0) return false;
        retried = true;
        // One entry failed: others may be gone too (evicted), and the retry must not need them.
        const gone = await withCacheRoot(c.paths.store, () => lz.checkHeld()).catch(() => 0);
        if (gone) core.info(`Layer cache: ${gone} entr${gone === 1 ? 'y' : 'ies'} the index refers to ${gone === 1 ? 'is' : 'are'} no longer in the cache service; the retry does without ${gone === 1 ? 'it' : 'them'}.`);
        const again = lz.reoffer();
        proxy.offer(again);
        proxy.rearmExport();
        plan.build.cacheFrom = again ? proxy.cacheFrom : undefined;
        core.warning(`Layer cache: ${lz.failed.size} cached blob(s) could not be fetched during the build; building again without them.`);
        if (session.hit === 'exact') session.hit = 'partial';
        return true;
      },
      close: async (reported) => {
        await proxy.close();
        await forget().catch(() => undefined);
        svc.close();
        const form = proxy.stats.exportForm ? ` in the ${proxy.stats.exportForm} form` : '';
        core.info(
          `Layer cache: BuildKit fetched ${proxy.stats.fetches} blob(s) from the cache service (${outcome!.bytesRestored} bytes in all), ` +
            `and exported ${proxy.stats.uploads} new blob(s) (${proxy.stats.bytesUploaded} bytes)${form}; ${stats.ms} ms in the cache service in all.`,
        );
        if (proxy.stats.unauthorized > 0) core.debug(`Layer cache: the loopback registry refused ${proxy.stats.unauthorized} request(s) without this run's credential.`);
        await judge(reported, proxy.stats.exportDigest);
        record();
      },
    };
    core.info(`Layer cache: ${session.hit}; index ${outcome.bytesRestored} bytes in ${Date.now() - started} ms; layers are fetched when the build needs them.`);
  });
  record();
  if (!save) core.info(`Layer cache will not be saved (${saveReason}).`);
  // Cache mounts (cache-mounts): restored after the layer cache, before the build; never throws.
  await restoreMountsPhase(plan, state, report, { save: save && available, saveSkipReason: saveReason, phase });
  return session;
}

/** Saves the layer cache in post; never throws. */
export async function savePhase(c: NonNullable<PostState['cache']>, phase: CachePhase): Promise<{ outcome?: SaveOutcome; failure?: string; stats: ServiceStats; ms: number }> {
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
      const svc = await actionsCacheService(c.paths.store, phase, stats);
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
