// The core of the main step: run(inputs, context, deps). It plans the run, then carries it out
// phase by phase; each phase takes what it needs and returns what it did. Only main-impl.ts
// touches the runner: it reads the inputs and the context, and hands in `deps`, through which
// every output, the state for post and the report go.
import * as path from 'node:path';
import * as core from '@actions/core';
import type { Inputs } from './inputs.js';
import { DEFAULT_DISTRIBUTE_WAIT } from './inputs.js';
import type { Context } from './context.js';
import type { GitFacts } from './meta/git.js';
import { metaOutputs, outputEnv } from './meta/outputs.js';
import { attestationsFor, planRun } from './plan.js';
import type { RunPlan } from './plan.js';
import { localCacheFrom } from './cache/layout.js';
import { buildxArgv, displayCommand } from './docker/argv.js';
import type { BuildPlan } from './docker/argv.js';
import { checkSecretSources, readSecretValues, secretSpecsForDisplay } from './secrets.js';
import { withholdEnv } from './exec.js';
import type { StateKeeper } from './state.js';
import type { Report } from './report.js';
import { setupDocker } from './phases/docker.js';
import type { DockerSetup } from './phases/docker.js';
import { restorePhase } from './phases/restore.js';
import type { CacheSession } from './phases/restore.js';
import { effectiveBuildkitVersion, planCacheAccess } from './cache/access.js';
import { buildPhase, checkCallSupported } from './phases/build.js';
import type { BuildRequest, BuildResult } from './phases/build.js';
import { TestFailedError } from './phases/test-run.js';
import { handOverDigest, mergePhase } from './phases/distribute.js';
import { describeManifest, inspectImage } from './docker/imagetools.js';
import { dropMountExports, exportMountsPhase } from './phases/mounts.js';
import { checkBuildFiles } from './inputs-files.js';
import { pullBaseImages } from './docker/base-images.js';

/** Where the step runs. */
export interface RunContext {
  github: Context;
  env: NodeJS.ProcessEnv;
  /** The step's working directory (the build context is relative to it). */
  cwd: string;
  /** The checkout's facts, when metadata-context is git. */
  git?: GitFacts;
}

export interface Deps {
  /** Sets a step output. */
  setOutput(name: string, value: string): void;
  /** Sets a variable for the job's later steps. */
  exportVariable(name: string, value: string): void;
  /** The state for post: updated (and saved) before each effect post must know about. */
  keeper: StateKeeper;
  /** Adds to the run's report (the job summary). */
  note(part: Partial<Report>): void;
}

/** The outputs of a run that built nothing (a dry run, or before the build). */
const EMPTY_OUTPUTS = ['builder', 'driver', 'platforms', 'buildx-version', 'digest', 'imageid', 'metadata'];

/**
 * The metadata outputs (joined with the sep-* inputs) and, as metadata-action does unless
 * DOCKER_METADATA_SET_OUTPUT_ENV is false, the same values as DOCKER_METADATA_OUTPUT_* variables.
 */
function announcePlan(plan: RunPlan, inputs: Inputs, rc: RunContext, deps: Deps): void {
  for (const w of plan.meta.warnings) core.warning(w);
  const outputs = metaOutputs(plan.meta, { tags: inputs.sepTags ?? '\n', labels: inputs.sepLabels ?? '\n', annotations: inputs.sepAnnotations ?? '\n' });
  for (const [k, v] of Object.entries(outputs)) deps.setOutput(k, v);
  for (const [k, v] of Object.entries(outputEnv(outputs, rc.env.DOCKER_METADATA_SET_OUTPUT_ENV))) deps.exportVariable(k, v);
  deps.setOutput('cache-key', plan.cache?.keys.primary ?? '');
  const d = plan.decisions;
  core.info(`${d.push ? 'Pushing' : 'Not pushing'} (${d.pushReason}). Tags:${plan.meta.tags.length ? '\n  ' + plan.meta.tags.join('\n  ') : ' none'}`);
  deps.note({ tags: plan.meta.tags, pushReason: d.pushReason, pushPlanned: d.push, secretIds: inputs.secrets.map((s) => s.id), dockerfile: plan.build.file });
}

/** dry-run: the buildx command line the run would use, and no Docker at all. */
function dryRun(inputs: Inputs, plan: RunPlan, deps: Deps): void {
  const shown: BuildPlan = {
    ...plan.build,
    secretSpecs: secretSpecsForDisplay(inputs.secrets),
    cacheFrom: plan.cache ? localCacheFrom(plan.cache.paths.layoutIn) : plan.build.cacheFrom,
  };
  core.info(`Dry run: ${displayCommand('docker', buildxArgv(shown))}`);
  deps.setOutput('cache-hit', plan.cache ? 'miss' : 'disabled');
  for (const o of EMPTY_OUTPUTS) deps.setOutput(o, '');
  deps.note({ dryRun: true });
}

export async function run(inputs: Inputs, rc: RunContext, deps: Deps): Promise<void> {
  const plan = planRun(inputs, rc.github, rc.env, rc.git);
  announcePlan(plan, inputs, rc, deps);
  if (inputs.dryRun) return dryRun(inputs, plan, deps);
  deps.keeper.update({ workDir: plan.root });
  deps.note({ platforms: inputs.platforms.length ? inputs.platforms : undefined, distribute: inputs.distribute === 'off' ? undefined : inputs.distribute });
  deps.setOutput('built-platforms', inputs.platforms.join(','));
  deps.setOutput('platform-digests', '{}');
  if (inputs.distribute === 'merge') return runMerge(inputs, rc, plan, deps);
  await runBuild(inputs, rc, plan, deps);
}

/** Docker, buildx, the logins and the builder; the toolchain goes into the report. */
async function prepareDocker(inputs: Inputs, rc: RunContext, plan: RunPlan, deps: Deps): Promise<DockerSetup> {
  const d = plan.decisions;
  const docker = await setupDocker(inputs, rc.github, deps.keeper, {
    images: plan.meta.images,
    push: d.push,
    skipLogin: d.skipLogin,
    platforms: inputs.platforms,
    byDigest: !!plan.build.pushByDigest,
  });
  announceDocker(docker, deps);
  if (docker.emulation?.arches.length) deps.note({ emulated: docker.emulation });
  return docker;
}

/** The builder's outputs, and the toolchain for the report. */
function announceDocker(docker: DockerSetup, deps: Deps): void {
  const b = docker.builder;
  deps.note({
    toolchain: {
      docker: docker.toolchain.dockerVersion,
      buildx: docker.toolchain.buildxVersion,
      driver: b.driver,
      builder: b.name,
      buildkit: b.buildkitVersion || undefined,
    },
  });
  deps.setOutput('builder', docker.builder.name);
  deps.setOutput('driver', docker.builder.driver);
  deps.setOutput('platforms', docker.builder.platforms.join(','));
  deps.setOutput('buildx-version', docker.toolchain.buildxVersion);
}

/** The requested build on this builder: its name and the attestations it can make. */
function buildOnBuilder(inputs: Inputs, plan: RunPlan, docker: DockerSetup): BuildPlan {
  const att = attestationsFor(inputs, { driver: docker.builder.driver, containerdStore: docker.toolchain.containerdStore });
  if (att.note) core.info(att.note);
  return { ...plan.build, builder: docker.builder.name, provenance: att.provenance, sbom: att.sbom };
}

/** The layer cache before the build (index, loopback registry, cache mounts). */
async function restoreCache(inputs: Inputs, plan: RunPlan, docker: DockerSetup, deps: Deps): Promise<CacheSession> {
  const access = planCacheAccess(inputs.cacheFetch, {
    driver: docker.builder.driver,
    containerdStore: docker.toolchain.containerdStore,
    hostNetwork: !!docker.builder.hostNetwork,
    buildkitVersion: effectiveBuildkitVersion(docker.builder.driver, docker.builder.buildkitVersion, docker.toolchain.dockerVersion),
  });
  const pullBases = (refs: string[]) =>
    pullBaseImages(refs, { builder: docker.builder.name, platforms: inputs.platforms, env: docker.env, context: path.join(plan.root, 'base-pull') });
  const restored = await restorePhase(plan, deps.keeper, { mode: inputs.cacheFetch, access, builder: docker.builder.name, pullBases });
  deps.note({ cache: restored.cache, mounts: restored.mounts });
  deps.setOutput('cache-hit', restored.session.hit);
  return restored.session;
}

/** The build with its cache session: closes the session whatever happens; a failed test-run comes back as testFailure. */
async function buildWithCache(req: BuildRequest, docker: DockerSetup, session: CacheSession, deps: Deps) {
  const { keeper } = deps;
  let result: BuildResult | undefined;
  let testFailure: TestFailedError | undefined;
  try {
    result = await buildPhase(req, docker, {
      keeper,
      note: deps.note,
      recover: (output) => session.recover(output),
      mountExports: { export: () => exportMountsPhase(keeper.state.mounts, keeper.state.dockerConfig), drop: () => dropMountExports(keeper.state.mounts) },
    });
  } catch (err) {
    if (!(err instanceof TestFailedError)) throw err;
    testFailure = err;
  } finally {
    const closed = await session.close(result?.cacheDigest ?? testFailure?.cacheDigest);
    if (closed) deps.note({ cache: closed });
    deps.setOutput('cache-hit', session.hit);
  }
  return { result, testFailure };
}

/** The state after a build that succeeded (post saves the layer cache), whatever the tests said. */
function recordBuilt(keeper: StateKeeper, buildMs: number | undefined, testFailed: boolean): void {
  const cache = keeper.state.cache ? { ...keeper.state.cache, buildMs } : undefined;
  keeper.update({ buildSucceeded: true, ...(testFailed ? { testFailed: true } : {}), cache });
}

async function runBuild(inputs: Inputs, rc: RunContext, plan: RunPlan, deps: Deps): Promise<void> {
  // Before any Docker work: the context, the Dockerfile and the target stage.
  await checkBuildFiles(inputs, rc.github.workspace, rc.cwd);
  await checkSecretSources(inputs.secrets);
  const secretValues = await readSecretValues(inputs.secrets);
  // From here on only `docker buildx build` gets the variables secret-envs names (see exec.ts).
  withholdEnv(inputs.secrets.flatMap((s) => (s.source.kind === 'env' ? [s.source.name] : [])));
  const docker = await prepareDocker(inputs, rc, plan, deps);
  const requested = buildOnBuilder(inputs, plan, docker);
  const session = await restoreCache(inputs, plan, docker, deps);
  if (inputs.build.call) await checkCallSupported(docker);
  const req: BuildRequest = {
    build: { ...requested, ...session.args },
    root: plan.root,
    runnerTemp: rc.github.runnerTemp,
    workspace: rc.github.workspace,
    secrets: inputs.secrets,
    secretValues,
    guard: inputs.secretScan !== false,
    testRun: inputs.build.testRun ?? '',
  };
  const { result, testFailure } = await buildWithCache(req, docker, session, deps);
  recordBuilt(deps.keeper, result?.buildMs ?? testFailure?.buildMs, !!testFailure);
  // The build succeeded and the leak guard passed: post saves the layer cache, so that the run
  // with the fix starts warm. Nothing was pushed or exported.
  if (testFailure || !result) throw testFailure;
  await publish(inputs, rc, plan, docker, result, deps);
}

/** The outputs and the report of a build that succeeded; the platform digests read back; a platform job's hand-over. */
async function publish(inputs: Inputs, rc: RunContext, plan: RunPlan, docker: DockerSetup, result: BuildResult, deps: Deps): Promise<void> {
  const d = plan.decisions;
  deps.setOutput('digest', result.digest);
  deps.setOutput('imageid', result.imageid);
  deps.setOutput('metadata', JSON.stringify(result.metadata ?? {}));
  deps.note({ pushed: d.push, digest: result.digest, imageid: result.imageid });
  const byDigest = !!plan.build.pushByDigest;
  if (byDigest && result.digest) core.info(`Pushed ${inputs.platforms[0]} by digest (no tag): ${result.digest}`);
  else if (d.push) core.info(`Pushed ${plan.meta.tags.length} tag(s) at ${result.digest}`);
  if (!result.digest) return;
  const ref = `${plan.meta.images[0]}@${result.digest}`;
  const single = inputs.platforms.length === 1 ? inputs.platforms[0] : '';
  // The guard read the pushed index before the push: no need to read it back from the registry.
  const known = result.pushedManifest ? describeManifest(result.pushedManifest, single) : undefined;
  const got = known?.digest === result.digest ? known : await inspectImage(ref, docker.env, single);
  if (got) deps.note({ platformDigests: got.platforms });
  else core.warning(`platform-digests: ${ref} could not be read back from the registry; the output is empty.`);
  deps.setOutput('platform-digests', JSON.stringify(got?.platforms ?? {}));
  if (byDigest) deps.note({ handoverKey: await handOverDigest(plan, rc.github, inputs.platforms[0], result.digest) });
}

/** distribute: merge: no build; the platform jobs' digests joined into one index under every tag. */
async function runMerge(inputs: Inputs, rc: RunContext, plan: RunPlan, deps: Deps): Promise<void> {
  const d = plan.decisions;
  // Only imagetools runs: the daemon's own builder is enough (none is created, no QEMU).
  const mergeInputs: Inputs = { ...inputs, builder: { ...inputs.builder, driver: 'docker' } };
  const docker = await setupDocker(mergeInputs, rc.github, deps.keeper, { images: plan.meta.images, push: d.push, skipLogin: d.skipLogin, platforms: [] });
  announceDocker(docker, deps);
  deps.setOutput('cache-hit', 'disabled');
  const merged = await mergePhase(plan, rc.github, docker, inputs.platforms, inputs.distributeWaitSeconds ?? DEFAULT_DISTRIBUTE_WAIT, deps.note);
  deps.keeper.update({ buildSucceeded: true });
  deps.setOutput('digest', merged?.digest ?? '');
  deps.setOutput('imageid', '');
  deps.setOutput('platform-digests', JSON.stringify(merged?.platformDigests ?? {}));
  if (merged) deps.note({ pushed: true, digest: merged.digest, platformDigests: merged.platformDigests });
}
