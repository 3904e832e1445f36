// The main step: resolve inputs and context, prepare Docker, restore the layer cache, build, push.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { readInputs, InputError } from './inputs.js';
import type { Inputs } from './inputs.js';
import { contextFromEnv, defaultBranchOf, isPullRequestEvent } from './context.js';
import type { Context } from './context.js';
import { planMeta, MetaInputError } from './meta/index.js';
import type { MetaResult } from './meta/index.js';
import { planScope, planIndexKeys } from './cache/keys.js';
import { cachePaths, restoreLayerCache } from './cache/store.js';
import type { CacheHit } from './cache/store.js';
import { actionsCacheService, isCacheServiceAvailable, withCacheRoot } from './cache/service.js';
import { buildxArgv, displayCommand } from './docker/argv.js';
import type { BuildPlan } from './docker/argv.js';
import { dockerEnv, login, makeDockerConfig, prepareBuilder, probeToolchain, ToolError, LoginError } from './docker/docker.js';
import { checkSecretSources, makeSecretDir, maskSecrets, materializeSecrets } from './secrets.js';
import { run, ExecError } from './exec.js';
import { saveState } from './state.js';
import type { PostState } from './state.js';

export interface Decisions {
  push: boolean;
  pushReason: string;
  saveCache: boolean;
  saveReason: string;
}

/** Pure: whether to push and whether to save the cache, with the reason shown in the log. */
export function decide(inputs: Inputs, ctx: Context, images: string[]): Decisions {
  const pr = isPullRequestEvent(ctx.eventName);
  let push: boolean;
  let pushReason: string;
  if (inputs.push === 'true') [push, pushReason] = [true, 'push: true'];
  else if (inputs.push === 'false') [push, pushReason] = [false, 'push: false'];
  else if (pr) [push, pushReason] = [false, `push: auto does not push on ${ctx.eventName} events`];
  else [push, pushReason] = [true, `push: auto pushes on ${ctx.eventName || 'this'} event`];
  if (push && images.length === 0) {
    throw new InputError('images', 'no image names given, but the build would push; set images, or push: false');
  }
  let saveCache: boolean;
  let saveReason: string;
  if (!inputs.cache) [saveCache, saveReason] = [false, 'cache: false'];
  else if (inputs.cacheSave === 'true') [saveCache, saveReason] = [true, 'cache-save: true'];
  else if (inputs.cacheSave === 'false') [saveCache, saveReason] = [false, 'cache-save: false'];
  else if (pr) [saveCache, saveReason] = [false, 'cache-save: auto only reads the cache on pull requests'];
  else [saveCache, saveReason] = [true, 'cache-save: auto'];
  return { push, pushReason, saveCache, saveReason };
}

export function resolveMeta(inputs: Inputs, ctx: Context, env: NodeJS.ProcessEnv): MetaResult {
  const sde = env.SOURCE_DATE_EPOCH;
  const epoch = sde && /^\d+$/.test(sde) ? Number(sde) : undefined;
  return planMeta(
    { images: inputs.images, tags: inputs.tags, flavor: inputs.flavor, labels: inputs.labels, annotations: inputs.annotations },
    ctx,
    {
      now: epoch !== undefined ? new Date(epoch * 1000) : new Date(),
      sourceDateEpoch: epoch,
      defaultBranch: defaultBranchOf(ctx),
      prHeadSha: env.DOCKER_METADATA_PR_HEAD_SHA === 'true',
      shortShaLength: env.DOCKER_METADATA_SHORT_SHA_LENGTH ? Number(env.DOCKER_METADATA_SHORT_SHA_LENGTH) : undefined,
      annotationLevels: env.DOCKER_METADATA_ANNOTATIONS_LEVELS ? env.DOCKER_METADATA_ANNOTATIONS_LEVELS.split(',').map((s) => s.trim()) : undefined,
    },
  );
}

function dockerfileOf(inputs: Inputs): string {
  return inputs.file || path.join(inputs.context, 'Dockerfile');
}

export async function runMain(): Promise<void> {
  const state: PostState = { version: 1, buildSucceeded: false, loggedIn: [] };
  try {
    const inputs = readInputs();
    maskSecrets(inputs.secrets);
    if (inputs.password) core.setSecret(inputs.password);
    if (inputs.githubToken) core.setSecret(inputs.githubToken);
    const ctx = contextFromEnv();
    const meta = resolveMeta(inputs, ctx, process.env);
    for (const w of meta.warnings) core.warning(w);
    const d = decide(inputs, ctx, meta.images);
    const scope = planScope({
      cacheScope: inputs.cacheScope,
      images: meta.images,
      target: inputs.target,
      platforms: inputs.platforms,
      file: dockerfileOf(inputs),
    });
    const keys = planIndexKeys(scope, ctx);
    const root = path.join(ctx.runnerTemp, 'oneshot-build');
    const paths = cachePaths(root, scope);
    const useCache = inputs.cache;

    core.setOutput('tags', meta.tags.join('\n'));
    core.setOutput('version', meta.version);
    core.setOutput('labels', meta.labels.join('\n'));
    core.setOutput('annotations', meta.annotations.join('\n'));
    core.setOutput('json', JSON.stringify(meta.json));
    core.setOutput('cache-key', useCache ? keys.primary : '');
    core.info(`${d.push ? 'Pushing' : 'Not pushing'} (${d.pushReason}). Tags:${meta.tags.length ? '\n  ' + meta.tags.join('\n  ') : ' none'}`);

    const plan: BuildPlan = {
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
      cacheTo: useCache ? paths.layoutOut : undefined,
      push: d.push,
      load: false,
      provenance: inputs.provenance || 'mode=min',
      sbom: inputs.sbom,
      metadataFile: path.join(root, 'metadata.json'),
    };

    if (inputs.dryRun) {
      plan.secretSpecs = inputs.secrets.map((s) => `id=${s.id},${s.source.kind === 'env' ? 'env=' + s.source.name : 'src=<file>'}`);
      if (useCache) plan.cacheFrom = paths.layoutIn;
      core.info(`Dry run: ${displayCommand('docker', buildxArgv(plan))}`);
      core.setOutput('cache-hit', useCache ? 'miss' : 'disabled');
      core.setOutput('builder', '');
      core.setOutput('digest', '');
      core.setOutput('imageid', '');
      return;
    }

    await checkSecretSources(inputs.secrets);

    // Docker and the builder.
    let env = dockerEnv(undefined);
    const tc = await core.group('Docker and buildx', async () => {
      const t = await probeToolchain(env);
      core.info(`Docker ${t.dockerVersion}, buildx ${t.buildxVersion}, containerd image store: ${t.containerdStore}`);
      return t;
    });

    if (inputs.username || inputs.password) {
      if (!inputs.username || !inputs.password) {
        throw new InputError(inputs.username ? 'password' : 'username', 'registry login needs both username and password');
      }
      await core.group(`Login to ${inputs.registry || 'Docker Hub'}`, async () => {
        state.dockerConfig = await makeDockerConfig(ctx.runnerTemp);
        saveState(state);
        env = dockerEnv(state.dockerConfig);
        await login(inputs.registry, inputs.username, inputs.password, env);
        state.loggedIn.push(inputs.registry);
        saveState(state);
      });
    }

    const builder = await core.group('Builder', async () => {
      const b = await prepareBuilder(tc, env, ctx.runId);
      state.builder = { name: b.name, created: b.created };
      saveState(state);
      core.info(`Builder ${b.name} (driver ${b.driver})`);
      return b;
    });
    plan.builder = builder.name;
    core.setOutput('builder', builder.name);

    // The layer cache.
    let hit: CacheHit = 'disabled';
    if (useCache) {
      const started = Date.now();
      const stats = { calls: 0, failures: 0, ms: 0, uploads: 0 };
      const outcome = await core.group('Restore layer cache', async () => {
        if (!isCacheServiceAvailable()) {
          core.warning('Layer cache: the Actions cache service is not available to this step (no ACTIONS_RESULTS_URL); building without cache.');
          return undefined;
        }
        const o = await withCacheRoot(paths.store, async () => {
          const svc = await actionsCacheService(paths.store, cacheTimeoutMs(), stats);
          return restoreLayerCache(svc, paths, keys);
        });
        core.info(`Layer cache: ${o.hit}, ${o.bytesRestored} bytes from ${o.entriesRestored} entries in ${Date.now() - started} ms.`);
        return o;
      });
      hit = outcome?.hit ?? 'miss';
      if (outcome?.layoutReady) plan.cacheFrom = paths.layoutIn;
      await fs.mkdir(path.dirname(paths.layoutOut), { recursive: true });
      state.cache = {
        save: d.saveCache && isCacheServiceAvailable(),
        saveSkipReason: d.saveCache ? undefined : d.saveReason,
        scope,
        keys,
        paths,
        hit,
        held: outcome?.held ?? {},
        bytesRestored: outcome?.bytesRestored ?? 0,
        restoreMs: Date.now() - started,
      };
      saveState(state);
      if (!d.saveCache) core.info(`Layer cache will not be saved (${d.saveReason}).`);
    }
    core.setOutput('cache-hit', hit);

    // The build.
    await core.group('Build', async () => {
      if (inputs.secrets.length) {
        state.secretDir = await makeSecretDir(ctx.runnerTemp);
        saveState(state);
        plan.secretSpecs = await materializeSecrets(inputs.secrets, state.secretDir);
      }
      await fs.mkdir(path.dirname(plan.metadataFile), { recursive: true });
      await fs.rm(plan.metadataFile, { force: true });
      const argv = buildxArgv(plan);
      core.debug(`Build command: ${displayCommand('docker', argv)}`);
      await run('docker', argv, { env });
    });
    state.buildSucceeded = true;
    saveState(state);

    const md = JSON.parse(await fs.readFile(plan.metadataFile, 'utf8'));
    const digest: string = md['containerimage.digest'] ?? '';
    core.setOutput('digest', d.push ? digest : '');
    core.setOutput('imageid', md['containerimage.config.digest'] ?? '');
    if (d.push) core.info(`Pushed ${meta.tags.length} tag(s) at ${digest}`);
  } catch (err) {
    saveState(state);
    core.setFailed(describeError(err));
  }
}

export function cacheTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.OBC_CACHE_TIMEOUT_SECONDS);
  return (Number.isFinite(v) && v > 0 ? v : 600) * 1000;
}

/** One clear line for the user; stack traces only at debug level. */
export function describeError(err: unknown): string {
  if (err instanceof InputError || err instanceof MetaInputError || err instanceof ToolError || err instanceof LoginError) return err.message;
  if (err instanceof ExecError) return err.message;
  if (err instanceof Error) {
    core.debug(err.stack ?? err.message);
    return err.message;
  }
  return String(err);
}
