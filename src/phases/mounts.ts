// Phases of the cache mounts (cache-mounts): main restores them before the build and exports them
// right after it (so the leak guard checks them); post saves them. One mount at a time is done by
// cache/mounts.ts. Nothing here fails the job.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { formatBytes } from '../format.js';
import type { StateKeeper } from '../state.js';
import type { CacheService, CachePhase } from '../cache/service.js';
import { actionsCacheService, isCacheServiceAvailable, newStats, withCacheRoot } from '../cache/service.js';
import type { MountsPlan } from '../cache/mounts-plan.js';
import type { Helper, MountReport, MountSaveReport, MountState, MountsState } from '../cache/mounts.js';
import { exportOne, helperFor, label, restoreOne, saveOne } from '../cache/mounts.js';

export interface RestoreMountsOptions {
  /** The builder the build runs on (the helper builds use it too). */
  builder?: string;
  save: boolean;
  saveSkipReason?: string;
  phase: CachePhase;
}

/** Restores every mount in turn; a mount that throws is reported failed, the others go on. */
async function restoreAll(svc: CacheService | undefined, h: Helper, p: MountsPlan, mounts: MountState[], reports: MountReport[]): Promise<void> {
  for (let i = 0; i < p.mounts.length; i++) {
    try {
      reports.push(await restoreOne(svc, h, p.mounts[i], mounts[i]));
    } catch (err) {
      core.warning(`${label(p.mounts[i].id)}: not restored: ${(err as Error).message}`);
      reports.push({ id: p.mounts[i].id, result: 'failed', bytes: 0 });
    }
  }
}

/** Restores with the cache service when this step may use it, else reports every mount empty. */
async function restoreWithService(h: Helper, p: MountsPlan, mounts: MountState[], reports: MountReport[], phase: CachePhase): Promise<void> {
  if (!isCacheServiceAvailable()) {
    core.info('cache-mounts: the Actions cache service is not available to this step; nothing is restored or saved.');
    return restoreAll(undefined, h, p, mounts, reports);
  }
  await withCacheRoot(p.root, async () => {
    const svc = await actionsCacheService(p.root, phase, newStats());
    try {
      await restoreAll(svc, h, p, mounts, reports);
    } finally {
      svc.close();
    }
  });
}

/**
 * Main: restores every cache mount of the plan, after the layer cache and before the build, in its
 * own log group. Records what post needs through the keeper; returns what was restored, one per
 * mount (undefined when nothing was tried). Never throws.
 */
export async function restoreMountsPhase(p: MountsPlan | undefined, keeper: StateKeeper, o: RestoreMountsOptions): Promise<MountReport[] | undefined> {
  if (!p) return undefined;
  return core.group(`Restore cache mounts (${p.mounts.length})`, async () => {
    const builder = o.builder;
    if (!builder) {
      core.warning('cache-mounts: the builder is not known; cache mounts are not restored or saved.');
      return undefined;
    }
    const h = helperFor({ builder, image: p.image, namespace: p.namespace, root: p.root }, keeper.state.dockerConfig);
    const mounts: MountState[] = p.mounts.map((m) => ({ id: m.id, slug: m.slug, keys: m.keys }));
    const reports: MountReport[] = [];
    try {
      await restoreWithService(h, p, mounts, reports, o.phase);
    } catch (err) {
      core.warning(`cache-mounts: not restored: ${(err as Error).message}`);
    }
    keeper.update({
      mounts: {
        builder,
        image: p.image,
        maxBytes: p.maxBytes,
        ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
        root: p.root,
        save: o.save && isCacheServiceAvailable(),
        saveSkipReason: o.save ? undefined : o.saveSkipReason,
        mounts,
      },
    });
    if (!o.save) core.info(`Cache mounts will not be saved (${o.saveSkipReason ?? 'not enabled'}).`);
    return reports;
  });
}

/**
 * Main, right after the build: exports every mount that post will save, so that the leak guard can
 * look into them before anything leaves the runner. Records each export (or why it failed) in `s`,
 * which post reads from the state. Returns the directories to check. Never throws.
 */
export async function exportMountsPhase(s: MountsState | undefined, dockerConfig: string | undefined): Promise<string[]> {
  if (!s?.save || s.mounts.length === 0) return [];
  // Runs inside the leak guard's log group (groups do not nest), so no group of its own.
  core.info(`Exporting ${s.mounts.length} cache mount(s) so that the leak guard checks them too.`);
  const h = helperFor(s, dockerConfig);
  const dirs: string[] = [];
  for (const m of s.mounts) {
    const dir = path.join(s.root, 'exports', m.slug);
    try {
      const err = await exportOne(h, s, m, dir);
      if (err) m.exportError = err;
      else {
        m.exported = dir;
        dirs.push(dir);
      }
    } catch (err) {
      m.exportError = (err as Error).message;
    }
    if (m.exportError) core.warning(`${label(m.id)}: could not be exported: ${m.exportError}`);
  }
  return dirs;
}

/** Drops the exports (a leak was found: nothing of this build may be saved). */
export async function dropMountExports(s: MountsState | undefined): Promise<void> {
  if (!s) return;
  for (const m of s.mounts) {
    if (m.exported) await fs.rm(m.exported, { recursive: true, force: true });
    m.exported = undefined;
  }
}

/** Saves every mount in turn with one service; a mount that throws is reported not saved. */
async function saveAll(h: Helper, s: MountsState, phase: CachePhase): Promise<MountSaveReport[]> {
  const out: MountSaveReport[] = [];
  try {
    await withCacheRoot(s.root, async () => {
      const svc = await actionsCacheService(s.root, phase, newStats());
      try {
        for (const m of s.mounts) {
          try {
            out.push(await saveOne(svc, h, s, m));
          } catch (err) {
            core.warning(`${label(m.id)}: not saved: ${(err as Error).message}`);
            out.push({ id: m.id, saved: false, reason: (err as Error).message, bytes: 0 });
          }
        }
      } finally {
        svc.close();
      }
    });
  } catch (err) {
    core.warning(`cache-mounts: not saved: ${(err as Error).message}`);
  }
  return out;
}

/**
 * Post: saves the cache mounts after a successful build when the cache is saved (the layer cache's
 * conditions), in its own log group. Returns what it did, one per mount tried. Never throws.
 */
export async function saveMountsPhase(
  s: MountsState | undefined,
  buildSucceeded: boolean,
  dockerConfig: string | undefined,
  phase: CachePhase,
): Promise<MountSaveReport[]> {
  if (!s) return [];
  return core.group('Save cache mounts', async () => {
    if (!buildSucceeded) {
      core.info('Cache mounts not saved: the build did not succeed.');
      return [];
    }
    if (!s.save) {
      core.info(`Cache mounts not saved (${s.saveSkipReason ?? 'the Actions cache service is not available'}).`);
      return [];
    }
    const started = Date.now();
    const out = await saveAll(helperFor(s, dockerConfig), s, phase);
    const saved = out.filter((r) => r.saved);
    core.info(
      `Cache mounts: ${saved.length} of ${s.mounts.length} saved (${formatBytes(saved.reduce((n, r) => n + r.bytes, 0))}) in ${Date.now() - started} ms.`,
    );
    await fs.rm(path.join(s.root, 'helpers'), { recursive: true, force: true }).catch(() => undefined);
    return out;
  });
}
