// Pure planning of a run: inputs + context + environment facts -> tags, decisions, cache keys and the
// build command's shape. Nothing here touches Docker, the network or the disk.
import * as path from 'node:path';
import type { Inputs } from './inputs.js';
import { InputError } from './input-error.js';
import type { Context } from './context.js';
import { defaultBranchOf, isPullRequestEvent } from './context.js';
import { planMeta } from './meta/index.js';
import type { MetaResult } from './meta/index.js';
import type { GitFacts } from './meta/git.js';
import { isRemoteContext } from './inputs-files.js';
import { planScope, planIndexKeys } from './cache/keys.js';
import type { IndexKeys } from './cache/keys.js';
import { cachePaths } from './cache/store.js';
import type { CachePaths } from './cache/store.js';
import type { BuildPlan, BuildFlags } from './docker/argv.js';
import { planMounts } from './cache/mounts-plan.js';
import type { MountsPlan } from './cache/mounts-plan.js';
import { DEFAULT_MOUNTS_IMAGE, DEFAULT_MOUNTS_MAX_BYTES } from './cache/mounts-input.js';
import { digestOutput } from './distribute.js';

export interface Decisions {
  push: boolean;
  pushReason: string;
  saveCache: boolean;
  saveReason: string;
  /** Set (to the reason) when no registry login is to be made: a pull request from a fork. */
  skipLogin?: string;
}

/**
 * The head repository of a `pull_request` event from a fork (payload.pull_request.head.repo.fork,
 * or a head repository other than the base one); undefined otherwise. Such a run has no secrets
 * and a read-only token.
 */
export function forkOf(ctx: Context): string | undefined {
  if (ctx.eventName !== 'pull_request') return undefined;
  const pr = ctx.payload?.pull_request;
  const head = pr?.head?.repo;
  const base = pr?.base?.repo;
  if (!head) return undefined;
  const headName = typeof head.full_name === 'string' ? head.full_name : '';
  const baseName = typeof base?.full_name === 'string' ? base.full_name : '';
  if (head.fork === true || (headName !== '' && baseName !== '' && headName !== baseName)) return headName || 'a fork';
  return undefined;
}

/** Whether to push and whether to save the cache, with the reason shown in the log. */
export function decide(inputs: Inputs, ctx: Context, images: string[], tags?: string[]): Decisions {
  const pr = isPullRequestEvent(ctx.eventName);
  const fork = forkOf(ctx);
  let push: boolean;
  let pushReason: string;
  const call = inputs.build?.call.split(',')[0];
  if (fork)
    [push, pushReason] = [
      false,
      `pull request from the fork ${fork}: it gets no secrets and no write token, so nothing is pushed and no registry login is made`,
    ];
  else if (call) [push, pushReason] = [false, `call: ${call} evaluates the build and makes no image`];
  else if (inputs.push === 'true') [push, pushReason] = [true, 'push: true'];
  else if (inputs.push === 'false') [push, pushReason] = [false, 'push: false'];
  else if (pr) [push, pushReason] = [false, `push: auto does not push on ${ctx.eventName} events`];
  else [push, pushReason] = [true, `push: auto pushes on ${ctx.eventName || 'this'} event`];
  if (push && images.length === 0) {
    throw new InputError('images', 'no image names given, but the build would push; set images, or push: false');
  }
  if (push && tags !== undefined && tags.length === 0) {
    // metadata-action only warns here; the push after it fails. Refused before any work instead.
    throw new InputError(
      'tags',
      `no tag for this run (event ${JSON.stringify(ctx.eventName)}, ref ${JSON.stringify(ctx.ref)}): no rule produced one, so there is nothing to push; add a rule that applies (e.g. type=sha or type=raw,value=latest), or set push: false`,
    );
  }
  let saveCache: boolean;
  let saveReason: string;
  if (!inputs.cache) [saveCache, saveReason] = [false, 'cache: false'];
  else if (call) [saveCache, saveReason] = [false, `call: ${call} builds no layers to save`];
  else if (inputs.cacheSave === 'true') [saveCache, saveReason] = [true, 'cache-save: true'];
  else if (inputs.cacheSave === 'false') [saveCache, saveReason] = [false, 'cache-save: false'];
  else if (pr) [saveCache, saveReason] = [false, 'cache-save: auto only reads the cache on pull requests'];
  else [saveCache, saveReason] = [true, 'cache-save: auto'];
  return { push, pushReason, saveCache, saveReason, ...(fork ? { skipLogin: pushReason } : {}) };
}

/**
 * The tags, labels and annotations. With metadata-context: git, `git` (the checkout's facts) replaces
 * the workflow's ref, commit and commit date, for the metadata only (push and cache decisions keep
 * the workflow's event and ref).
 */
export function resolveMeta(inputs: Inputs, ctx: Context, env: NodeJS.ProcessEnv, git?: GitFacts): MetaResult {
  if (git) ctx = { ...ctx, ref: git.ref, sha: git.sha };
  const sde = env.SOURCE_DATE_EPOCH;
  const epoch = sde && /^\d+$/.test(sde) ? Number(sde) : undefined;
  return planMeta({ images: inputs.images, tags: inputs.tags, flavor: inputs.flavor, labels: inputs.labels, annotations: inputs.annotations }, ctx, {
    now: epoch !== undefined ? new Date(epoch * 1000) : new Date(),
    sourceDateEpoch: epoch,
    defaultBranch: defaultBranchOf(ctx),
    ...(git?.commitDate ? { commitDate: git.commitDate } : {}),
    prHeadSha: env.DOCKER_METADATA_PR_HEAD_SHA === 'true',
    shortShaLength: env.DOCKER_METADATA_SHORT_SHA_LENGTH ? Number(env.DOCKER_METADATA_SHORT_SHA_LENGTH) : undefined,
    annotationLevels: env.DOCKER_METADATA_ANNOTATIONS_LEVELS ? env.DOCKER_METADATA_ANNOTATIONS_LEVELS.split(',').map((s) => s.trim()) : undefined,
  });
}

/** Export to a local OCI layout; a failed export never fails the build. */
export function localCacheTo(dir: string): string {
  return `type=local,dest=${dir},mode=max,ignore-error=true`;
}

/** The daemon's own builder on a classic image store: it cannot store attestations. */
const NO_ATTESTATIONS = 'the docker driver of a daemon without the containerd image store cannot add attestations';

/**
 * Pure: the --provenance and --sbom values for this builder. The default provenance is dropped
 * (with a note) where the builder cannot attach it; one the user asked for is an error.
 */
export function attestationsFor(
  a: { provenance: string; sbom: string },
  builder: { driver: string; containerdStore: boolean },
): { provenance: string; sbom: string; note?: string } {
  const off = (v: string) => /^(false|0|no)$/i.test(v);
  if (builder.driver !== 'docker' || builder.containerdStore) return { provenance: a.provenance || 'mode=min', sbom: a.sbom };
  if (a.provenance && !off(a.provenance)) throw new InputError('provenance', `${NO_ATTESTATIONS}; set provenance: false, or use driver: docker-container`);
  if (a.sbom && !off(a.sbom)) throw new InputError('sbom', `${NO_ATTESTATIONS}; set sbom: false, or use driver: docker-container`);
  return { provenance: 'false', sbom: a.sbom, note: a.provenance ? undefined : `No provenance attestation: ${NO_ATTESTATIONS}.` };
}

/** The build-push-action options that go to buildx as given. */
function buildFlagsOf(inputs: Inputs): BuildFlags {
  const b = inputs.build;
  if (!b) return {};
  return {
    pull: b.pull,
    noCache: b.noCache,
    noCacheFilters: b.noCacheFilters,
    buildContexts: b.buildContexts,
    ssh: b.ssh,
    network: b.network,
    addHosts: b.addHosts,
    shmSize: b.shmSize,
    ulimits: b.ulimits,
    allow: b.allow,
    cgroupParent: b.cgroupParent,
    call: b.call,
  };
}

/** The Dockerfile: `file`, else <context>/Dockerfile (for a Git or HTTP context, its own Dockerfile). */
export function dockerfileOf(inputs: Inputs): string {
  if (inputs.file) return inputs.file;
  return isRemoteContext(inputs.context) ? 'Dockerfile' : path.join(inputs.context, 'Dockerfile');
}

export interface RunPlan {
  meta: MetaResult;
  decisions: Decisions;
  /** Root of this action's working files under RUNNER_TEMP. */
  root: string;
  cache?: { scope: string; keys: IndexKeys; paths: CachePaths };
  /** Cache mounts to restore and save (cache-mounts; only with the layer cache on). */
  mounts?: MountsPlan;
  /** The build command's shape; the builder, secrets and cache-from are filled in by later phases. */
  build: BuildPlan;
}

export function planRun(inputs: Inputs, ctx: Context, env: NodeJS.ProcessEnv, git?: GitFacts): RunPlan {
  const meta = resolveMeta(inputs, ctx, env, git);
  const decisions = decide(inputs, ctx, meta.images, meta.tags);
  if (meta.tags.length === 0)
    meta.warnings.push('No Docker tag has been generated: no tag rule applies to this run (check tags); the image is built without a tag.');
  const root = path.join(ctx.runnerTemp, 'oneshot-build');
  let cache: RunPlan['cache'];
  if (inputs.cache && inputs.distribute !== 'merge') {
    const scope = planScope({
      cacheScope: inputs.cacheScope,
      images: meta.images,
      target: inputs.target,
      platforms: inputs.platforms,
      file: dockerfileOf(inputs),
    });
    cache = { scope, keys: planIndexKeys(scope, ctx), paths: cachePaths(root, scope) };
  }
  let mounts: MountsPlan | undefined;
  if (inputs.cacheMounts?.length) {
    if (!cache) meta.warnings.push('cache-mounts: ignored, because cache: false turns off the Actions cache for this step.');
    else {
      const o = {
        mounts: inputs.cacheMounts,
        image: inputs.cacheMountsImage ?? DEFAULT_MOUNTS_IMAGE,
        maxBytes: inputs.cacheMountsMaxSize ?? DEFAULT_MOUNTS_MAX_BYTES,
        buildArgs: inputs.buildArgs,
      };
      mounts = planMounts(o, cache.scope, root, ctx);
    }
  }
  const build: BuildPlan = {
    builder: 'default',
    context: inputs.context,
    file: dockerfileOf(inputs),
    target: inputs.target,
    platforms: inputs.platforms,
    buildArgs: inputs.buildArgs,
    secretSpecs: [],
    tags: meta.tags,
    labels: meta.labels,
    annotations: meta.annotations,
    cacheFrom: undefined,
    cacheTo: cache && !inputs.build?.call ? localCacheTo(cache.paths.layoutOut) : undefined,
    cacheExportDir: cache && !inputs.build?.call ? cache.paths.layoutOut : undefined,
    push: decisions.push,
    load: inputs.build?.load ?? false,
    provenance: inputs.provenance || 'mode=min',
    sbom: inputs.sbom,
    metadataFile: path.join(root, 'metadata.json'),
    outputs: [...(inputs.build?.outputs ?? [])],
    flags: buildFlagsOf(inputs),
    extraCacheFrom: inputs.build?.cacheFrom ?? [],
    extraCacheTo: inputs.build?.cacheTo ?? [],
  };
  if (inputs.distribute === 'platform' && decisions.push) {
    // Pushed by digest under no tag: the tags move only at the merge.
    build.tags = [];
    build.push = false;
    build.pushByDigest = digestOutput(meta.images);
  }
  return { meta, decisions, root, cache, build, ...(mounts ? { mounts } : {}) };
}
