// Phase (main): restore the layer cache from the Actions cache service before the build, then the
// cache mounts. Reads the plan, never writes it: what buildx gets is returned as arguments, what
// post needs goes through the state keeper, and what the summary shows is returned.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { RunPlan } from '../plan.js';
import type { BuildPlan } from '../docker/argv.js';
import type { Report } from '../report.js';
import type { StateKeeper } from '../state.js';
import { compareExport, openLazyCache, restoreLayerCache } from '../cache/store.js';
import type { CacheHit, RestoreOutcome } from '../cache/store.js';
import { startCacheProxy } from '../cache/proxy.js';
import { localCacheFrom } from '../cache/layout.js';
import { actionsCacheService, isCacheServiceAvailable, newCachePhase, newStats, withCacheRoot } from '../cache/service.js';
import type { CachePhase, CacheService, ServiceStats } from '../cache/service.js';
import type { CacheAccess, FetchMode } from '../cache/access.js';
import { namedExportMismatch } from '../cache/verify.js';
import { writeCredential } from '../docker/login.js';
import { restoreMountsPhase } from './mounts.js';
import { pinnedBaseImages } from '../docker/base-images.js';
import type { LazyCache } from '../cache/store.js';
import type { CacheProxy } from '../cache/proxy.js';

/**
 * The layer cache arguments of the build. Each key present replaces the build plan's (a key set to
 * undefined removes it); a key absent leaves the plan's as it is.
 */
export type CacheArgs = Partial<Pick<BuildPlan, 'cacheFrom' | 'cacheTo' | 'cacheExportDir'>>;

/**
 * The layer cache while the build runs. With lazy fetching, a loopback registry serves the cache to
 * BuildKit and fetches blobs from the service on demand; `recover` lets a build that failed on a
 * blob the service could not deliver run again without it.
 */
export interface CacheSession {
  /** The cache hit so far: a retry or the comparison of the export after the build may change it. */
  readonly hit: CacheHit;
  /** What buildx gets for the first build. */
  readonly args: CacheArgs;
  /**
   * Prepares a retry after a failed build (`output`: what buildx printed): the arguments for it, or
   * undefined when the failure was not the cache's.
   */
  recover(output?: string): Promise<CacheArgs | undefined>;
  /**
   * Stops the proxy and records what was restored; call after the build, with the digest of the
   * cache export BuildKit reported in the metadata file (undefined when the build failed). Returns
   * the summary's cache part, or undefined when there is nothing new to report.
   */
  close(reported?: string): Promise<Report['cache']>;
}

/** What the restore did: the session for the build, and the summary's parts so far. */
export interface Restored {
  session: CacheSession;
  cache?: Report['cache'];
  mounts?: Report['mounts'];
}

export interface RestoreOptions {
  mode: FetchMode;
  access: CacheAccess;
  /** The builder the build runs on (the cache mounts' helper builds use it). */
  builder?: string;
  /** Pulls base images into the builder again (see docker/base-images.ts); true when it did. */
  pullBases?: PullBases;
}

export type PullBases = (refs: string[]) => Promise<boolean>;

export interface RetryOptions {
  /** The cache root (for the lookups of the entries not fetched yet). */
  store: string;
  pull?: PullBases;
  /** Called for each retry it plans. */
  onRetry(): void;
}

const noSession = (hit: CacheHit, args: CacheArgs = {}): CacheSession => ({ hit, args, recover: async () => undefined, close: async () => undefined });

/** What one restore knows and finds out, shared by its steps. */
interface Run {
  c: NonNullable<RunPlan['cache']>;
  keeper: StateKeeper;
  /** The cache is to be saved (the plan says so and the builder can use one). */
  save: boolean;
  saveReason?: string;
  available: boolean;
  started: number;
  stats: ServiceStats;
  hit: CacheHit;
  outcome?: RestoreOutcome;
  unchanged?: boolean;
  /** The export post saves, as BuildKit reported it. */
  exportDigest?: string;
}

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
  if (mode === 'lazy')
    core.warning(`cache-fetch: lazy is not possible with this builder (${access.eagerReason}); fetching every cached layer before the build instead.`);
  else core.info(`Layer cache: fetching eagerly, because ${access.eagerReason}.`);
}

/**
 * After the build: `exact` when the build made nothing the restored cache lacked (post will save
 * nothing), `partial` when it restored a cache but made new layers.
 */
async function judge(r: Run, reported: string | undefined, received?: string): Promise<void> {
  if (r.save) r.exportDigest = await acceptExport(r.c.paths.layoutOut, reported, received);
  if (r.hit !== 'exact' && r.hit !== 'partial') return;
  try {
    const cmp = await compareExport(r.c.paths, r.outcome?.held ?? {});
    if (!cmp) return;
    r.hit = cmp.unchanged ? 'exact' : 'partial';
    r.unchanged = cmp.unchanged;
    if (cmp.unchanged) core.info('Layer cache: the build made no layer the cache lacks; nothing new will be saved.');
  } catch (err) {
    core.warning(`Layer cache: could not read this build's cache export: ${(err as Error).message}`);
  }
}

/** Hands what post needs to the state (saved at once), and returns the summary's cache part. */
function record(r: Run): NonNullable<Report['cache']> {
  const { c, outcome, unchanged } = r;
  const saveSkipReason = r.save ? undefined : r.saveReason;
  r.keeper.update({
    cache: {
      save: r.save && r.available,
      saveSkipReason,
      scope: c.scope,
      keys: c.keys,
      paths: c.paths,
      held: outcome?.held ?? {},
      unchanged,
      exportDigest: r.exportDigest,
    },
  });
  return {
    hit: r.hit,
    bytesRestored: outcome?.bytesRestored ?? 0,
    entriesRestored: outcome?.entriesRestored ?? 0,
    restoreMs: r.stats.ms,
    saveReason: saveSkipReason,
    coldBuildMs: outcome?.coldBuildMs,
    unchanged,
  };
}

/** A session whose `hit` follows the run's. */
function sessionOf(r: Run, s: Omit<CacheSession, 'hit'>): CacheSession {
  return {
    get hit() {
      return r.hit;
    },
    ...s,
  };
}

/** Eager: every cached blob before the build, into the local layout buildx imports. */
async function restoreEager(r: Run, svc: CacheService & { close(): void }, access: CacheAccess): Promise<CacheSession> {
  const { c } = r;
  let outcome: RestoreOutcome;
  try {
    outcome = await withCacheRoot(c.paths.store, () => restoreLayerCache(svc, c.paths, c.keys, access.form));
  } finally {
    svc.close();
  }
  r.outcome = outcome;
  r.hit = outcome.hit;
  core.info(`Layer cache: ${outcome.hit}, ${outcome.bytesRestored} bytes from ${outcome.entriesRestored} entries in ${Date.now() - r.started} ms.`);
  return sessionOf(r, {
    args: outcome.layoutReady ? { cacheFrom: localCacheFrom(c.paths.layoutIn) } : {},
    recover: async () => undefined,
    close: async (reported) => (await judge(r, reported), record(r)),
  });
}

/**
 * The retries of a lazy build whose blobs the service could not deliver. The first retry goes
 * without every blob that failed or whose entry is gone; but when a lost blob is a base image's
 * layer, going without it loses every cached step (each chain starts with it), so the builder
 * first pulls the base images the build resolved again and the retry still offers their layers.
 * Should the builder ask the cache for one of them after all, a second retry goes without them.
 */
export function retryPlanner(
  lz: Pick<LazyCache, 'failed' | 'bases' | 'reoffer' | 'checkHeld'>,
  proxy: Pick<CacheProxy, 'stats' | 'offer' | 'rearmExport' | 'cacheFrom'>,
  o: RetryOptions,
): (output?: string) => Promise<CacheArgs | undefined> {
  let retries = 0;
  let assumed = new Set<string>();
  let notHeldBefore = 0;
  const offerAgain = (keep: Set<string>): CacheArgs => {
    assumed = keep;
    notHeldBefore = proxy.stats.notHeld.length;
    const again = lz.reoffer(keep);
    proxy.offer(again);
    proxy.rearmExport();
    o.onRetry();
    return { cacheFrom: again ? proxy.cacheFrom : undefined };
  };
  return async (output = '') => {
    if (retries === 1) {
      const asked = new Set(proxy.stats.notHeld.slice(notHeldBefore));
      if (![...assumed].some((d) => asked.has(d) || output.includes(d))) return undefined;
      retries++;
      core.warning(`Layer cache: the builder asked the cache for the ${assumed.size} lost base image layer(s) after all; building again without them.`);
      return offerAgain(new Set());
    }
    if (retries > 0 || lz.failed.size === 0) return undefined;
    retries++;
    // One entry failed: others may be gone too (evicted), and the retry must not need them.
    const gone = await withCacheRoot(o.store, () => lz.checkHeld()).catch(() => 0);
    if (gone)
      core.info(
        `Layer cache: ${gone} entr${gone === 1 ? 'y' : 'ies'} the index refers to ${gone === 1 ? 'is' : 'are'} no longer in the cache service; the retry does without ${gone === 1 ? 'it' : 'them'}.`,
      );
    core.warning(`Layer cache: ${lz.failed.size} cached blob(s) could not be fetched during the build; building again without them.`);
    const lostBases = new Set([...lz.bases].filter((d) => lz.failed.has(d)));
    const refs = lostBases.size && o.pull ? pinnedBaseImages(output) : [];
    if (refs.length && (await o.pull!(refs))) {
      core.info(
        `Layer cache: ${lostBases.size} lost blob(s) are base image layers; the builder pulled ${refs.join(', ')} again, so the steps cached on them are still offered.`,
      );
      return offerAgain(lostBases);
    }
    return offerAgain(new Set());
  };
}

/** Lazy: the index now, and a loopback registry that fetches blobs when BuildKit asks for them. */
async function restoreLazy(r: Run, svc: CacheService & { close(): void }, access: CacheAccess, pull?: PullBases): Promise<CacheSession> {
  const { c } = r;
  const lz = await withCacheRoot(c.paths.store, () => openLazyCache(svc, c.paths, c.keys));
  r.outcome = lz.outcome;
  const fetch = (digest: string) => withCacheRoot(c.paths.store, () => lz.fetch(digest));
  const proxy = await startCacheProxy({ image: lz.image, held: lz.held, localPath: lz.localPath, fetch }, c.paths.layoutOut, { form: access.form });
  // BuildKit gets the registry's credential from buildx, which reads the job's private config.
  const dockerConfig = r.keeper.state.dockerConfig;
  const forget = dockerConfig ? await writeCredential(dockerConfig, proxy.host, proxy.credentials.username, proxy.credentials.password) : async () => undefined;
  r.hit = lz.image ? lz.outcome.hit : 'miss';
  const recover = retryPlanner(lz, proxy, {
    store: c.paths.store,
    pull,
    onRetry: () => {
      if (r.hit === 'exact') r.hit = 'partial';
    },
  });
  const close = async (reported?: string) => {
    await proxy.close();
    await forget().catch(() => undefined);
    svc.close();
    const ps = proxy.stats;
    const form = ps.exportForm ? ` in the ${ps.exportForm} form` : '';
    core.info(
      `Layer cache: BuildKit fetched ${ps.fetches} blob(s) from the cache service (${lz.outcome.bytesRestored} bytes in all), ` +
        `and exported ${ps.uploads} new blob(s) (${ps.bytesUploaded} bytes)${form}; ${r.stats.ms} ms in the cache service in all.`,
    );
    if (ps.unauthorized > 0) core.debug(`Layer cache: the loopback registry refused ${ps.unauthorized} request(s) without this run's credential.`);
    await judge(r, reported, ps.exportDigest);
    return record(r);
  };
  core.info(`Layer cache: ${r.hit}; index ${lz.outcome.bytesRestored} bytes in ${Date.now() - r.started} ms; layers are fetched when the build needs them.`);
  return sessionOf(r, { args: { cacheFrom: proxy.cacheFrom, cacheTo: proxy.cacheTo, cacheExportDir: proxy.exportDir }, recover, close });
}

/** The layer cache's log group: nothing (no cache for this builder, or no service), eager or lazy. */
async function restoreLayers(r: Run, o: RestoreOptions, access: CacheAccess, phase: CachePhase): Promise<CacheSession> {
  return core.group('Restore layer cache', async () => {
    // A builder that can use no layer cache builds without one, and exports none.
    if (access.off) return noSession('miss', { cacheTo: undefined, cacheExportDir: undefined });
    if (!r.available) {
      core.warning('Layer cache: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL); building without cache.');
      return noSession('miss');
    }
    explainFetch(o.mode, access);
    const svc = await withCacheRoot(r.c.paths.store, () => actionsCacheService(r.c.paths.store, phase, r.stats));
    return access.lazy ? restoreLazy(r, svc, access, o.pullBases) : restoreEager(r, svc, access);
  });
}

/**
 * Restores the cache before the build: the index (lazy) or everything (eager), then the cache
 * mounts. Never writes the plan: the session's `args` are what buildx gets.
 */
export async function restorePhase(plan: Readonly<Pick<RunPlan, 'cache' | 'decisions' | 'mounts'>>, keeper: StateKeeper, o: RestoreOptions): Promise<Restored> {
  const c = plan.cache;
  if (!c) return { session: noSession('disabled') };
  const d = plan.decisions;
  const { access } = o;
  const phase = newCachePhase();
  const r: Run = {
    c,
    keeper,
    save: d.saveCache && !access.off,
    saveReason: !d.saveCache ? d.saveReason : access.off,
    available: isCacheServiceAvailable(),
    started: Date.now(),
    stats: newStats(),
    hit: 'miss',
  };
  if (access.off) core.warning(`Layer cache: not used: ${access.off}.`);
  await fs.mkdir(path.dirname(c.paths.layoutOut), { recursive: true });
  const session = await restoreLayers(r, o, access, phase);
  const cache = record(r);
  if (!r.save) core.info(`Layer cache will not be saved (${r.saveReason}).`);
  // Cache mounts (cache-mounts): restored after the layer cache, before the build; never throws.
  const mounts = await restoreMountsPhase(plan.mounts, keeper, { builder: o.builder, save: r.save && r.available, saveSkipReason: r.saveReason, phase });
  return { session, cache, ...(mounts ? { mounts } : {}) };
}
