// Phase: distribute mode. A platform job hands its pushed digest to the merge through the Actions
// cache service (a small entry keyed by run id, run attempt, images and platform); the merge job
// finds every platform's digest of this run attempt, waiting a bounded time for entries not visible
// yet, and creates the image index under every computed tag.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { Context } from '../context.js';
import type { RunPlan } from '../plan.js';
import type { DockerSetup } from './docker.js';
import type { Report } from '../report.js';
import { digestKey, mergeCommands, normalizePlatform, parseHandedDigest } from '../distribute.js';
import type { HandedDigest } from '../distribute.js';
import { actionsCacheService, isCacheServiceAvailable, newCachePhase, newStats, withCacheRoot } from '../cache/service.js';
import { createIndex, inspectImage } from '../docker/imagetools.js';

/** The hand-over file, relative to the hand-over directory (the same path in every job). */
const FILE = 'obc-platform-digest.json';

function handoverDir(plan: RunPlan): string {
  return path.join(plan.root, 'distribute');
}

/** A platform job: stores its digest for the merge. Throws (one line) when it cannot. */
export async function handOverDigest(plan: RunPlan, ctx: Context, platform: string, digest: string): Promise<string> {
  const key = digestKey({ runId: ctx.runId, runAttempt: ctx.runAttempt, images: plan.meta.images, platform });
  if (!isCacheServiceAvailable())
    throw new Error(
      'distribute: platform: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL), so the digest cannot reach the merge',
    );
  const dir = handoverDir(plan);
  await fs.mkdir(dir, { recursive: true });
  const entry: HandedDigest = { platform: normalizePlatform(platform), digest, images: plan.meta.images, runId: ctx.runId, runAttempt: ctx.runAttempt };
  await fs.writeFile(path.join(dir, FILE), JSON.stringify(entry) + '\n');
  const saved = await withCacheRoot(dir, async () => {
    const svc = await actionsCacheService(dir, newCachePhase(), newStats());
    try {
      return await svc.save([FILE], key);
    } finally {
      svc.close();
    }
  });
  if (!saved) throw new Error(`distribute: platform: the digest of ${platform} could not be stored in the Actions cache under ${key}`);
  core.info(`distribute: handed ${platform} ${digest} to the merge (cache key ${key}).`);
  return key;
}

/** Waits between lookups of digests that are not visible yet (never past the deadline). */
const POLL_MS = 3000;

/** The merge: finds each platform's digest of this run attempt, or fails naming what is missing. */
async function collectDigests(plan: RunPlan, ctx: Context, platforms: string[], waitSeconds: number): Promise<Record<string, string>> {
  if (!isCacheServiceAvailable())
    throw new Error('distribute: merge: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL), so no platform digest can be found');
  const dir = handoverDir(plan);
  const found: Record<string, string> = {};
  const deadline = Date.now() + waitSeconds * 1000;
  const phase = newCachePhase();
  for (let round = 0; ; round++) {
    const missing = platforms.filter((p) => !(p in found));
    await withCacheRoot(dir, async () => {
      const svc = await actionsCacheService(dir, phase, newStats());
      try {
        for (const p of missing) {
          const key = digestKey({ runId: ctx.runId, runAttempt: ctx.runAttempt, images: plan.meta.images, platform: p });
          await fs.rm(path.join(dir, FILE), { force: true });
          if ((await svc.restore([FILE], key, [])) !== key) continue;
          const e = parseHandedDigest(await fs.readFile(path.join(dir, FILE), 'utf8').catch(() => ''));
          if (!e || e.runId !== ctx.runId || e.runAttempt !== ctx.runAttempt || e.platform !== normalizePlatform(p)) {
            core.warning(`distribute: merge: the entry ${key} is not a digest of ${p} from this run attempt; ignored.`);
            continue;
          }
          found[p] = e.digest;
          core.info(`distribute: ${p}: ${e.digest}`);
        }
      } finally {
        svc.close();
      }
    });
    const still = platforms.filter((p) => !(p in found));
    if (still.length === 0) return found;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(
        `distribute: merge: no digest of ${still.join(', ')} from this run (run ${ctx.runId}, attempt ${ctx.runAttempt}) after waiting ${waitSeconds} s; ` +
          'did its platform job (distribute: platform) succeed and push?',
      );
    }
    if (round === 0) core.info(`distribute: waiting up to ${waitSeconds} s for ${still.join(', ')}.`);
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, left)));
  }
}

export interface MergeResult {
  digest: string;
  platformDigests: Record<string, string>;
}

export async function mergePhase(
  plan: RunPlan,
  ctx: Context,
  docker: DockerSetup,
  platforms: string[],
  waitSeconds: number,
  note: (part: Partial<Report>) => void,
): Promise<MergeResult | undefined> {
  if (!plan.decisions.push) {
    core.info(`distribute: merge: not pushing (${plan.decisions.pushReason}), so no index is created.`);
    return undefined;
  }
  return core.group('Merge platform images', async () => {
    const digests = await collectDigests(plan, ctx, platforms, waitSeconds);
    note({ platformDigests: { ...digests } });
    const cmds = mergeCommands({ images: plan.meta.images, tags: plan.meta.tags, annotations: plan.meta.annotations, platforms, digests });
    if (cmds.length === 0) throw new Error('distribute: merge: no tags were computed for the images, so there is no name to put the index under');
    let index: MergeResult | undefined;
    for (const c of cmds) {
      await createIndex(c.image, c.argv, docker.env);
      core.info(`distribute: created the index of ${platforms.length} platform(s) as ${c.tags.join(', ')}`);
      const got = await inspectImage(c.tags[0], docker.env);
      if (!got) throw new Error(`distribute: merge: the index ${c.tags[0]} cannot be read back from the registry`);
      const lost = platforms.filter((p) => !got.platforms[normalizePlatform(p)]);
      if (lost.length) throw new Error(`distribute: merge: the index ${c.tags[0]} lacks ${lost.join(', ')}`);
      index ??= { digest: got.digest, platformDigests: Object.fromEntries(platforms.map((p) => [p, got.platforms[normalizePlatform(p)]])) };
    }
    return index;
  });
}
