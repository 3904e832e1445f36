// The main step: resolve inputs and context, prepare Docker, restore the layer cache, build, push.
import { rmSync } from 'node:fs';
import * as core from '@actions/core';
import { readInputs, InputError, DEFAULT_DISTRIBUTE_WAIT } from './inputs.js';
import type { Inputs } from './inputs.js';
import type { Context } from './context.js';
import { handOverDigest, mergePhase } from './phases/distribute.js';
import { inspectImage } from './docker/imagetools.js';
import { metaOutputs, outputEnv } from './meta/outputs.js';
import { gitFacts } from './meta/git.js';
import { contextFromEnv } from './context.js';
import { MetaInputError } from './meta/index.js';
import { attestationsFor, planRun, localCacheFrom } from './plan.js';
import type { RunPlan } from './plan.js';
import { buildxArgv, displayCommand } from './docker/argv.js';
import { ToolError, LoginError } from './docker/docker.js';
import { checkSecretSources, credentialBuildArgWarnings, maskSecrets, readSecretValues } from './secrets.js';
import { ExecError, refuseNewChildren, withholdEnv } from './exec.js';
import { graceFor, onStopSignal, stopDescendants } from './interrupt.js';
import type { StopSignal } from './interrupt.js';
import { saveState } from './state.js';
import type { PostState, StateKeeper } from './state.js';
import type { Report } from './report.js';
import { setupDocker } from './phases/docker.js';
import { restorePhase } from './phases/restore.js';
import { effectiveBuildkitVersion, planCacheAccess } from './cache/access.js';
import { buildPhase, checkCallSupported } from './phases/build.js';
import { TestFailedError } from './phases/test-run.js';
import { annotateFailure, annotationTarget, parseBuildxFailure } from './annotations.js';
import { appendSummary, renderMainSummary } from './summary.js';
import { realCwd, realWorkspace } from './workdir.js';
import { dropMountExports, exportMountsPhase } from './phases/mounts.js';
import { checkBuildFiles } from './inputs-files.js';
import { boundMessage } from './clip.js';

/**
 * The metadata outputs (joined with the sep-* inputs) and, as metadata-action does unless
 * DOCKER_METADATA_SET_OUTPUT_ENV is false, the same values as DOCKER_METADATA_OUTPUT_* variables
 * for the job's later steps.
 */
function setPlanOutputs(plan: RunPlan, inputs: Inputs): void {
  const outputs = metaOutputs(plan.meta, { tags: inputs.sepTags ?? '\n', labels: inputs.sepLabels ?? '\n', annotations: inputs.sepAnnotations ?? '\n' });
  for (const [k, v] of Object.entries(outputs)) core.setOutput(k, v);
  const env = outputEnv(outputs, process.env.DOCKER_METADATA_SET_OUTPUT_ENV);
  for (const [k, v] of Object.entries(env)) core.exportVariable(k, v);
  core.setOutput('cache-key', plan.cache?.keys.primary ?? '');
}

/** The signal that is cancelling this step, once one came, and the cancel under way (it exits). */
let cancelledBy: StopSignal | undefined;
let cancelling: Promise<void> | undefined;

/**
 * A cancelled step (SIGINT, or SIGTERM): stops every program it started, records for post that the
 * run was cancelled (post saves no cache), fails with one line, removes this action's working files
 * (a cache restore cut short leaves a partial archive and half-extracted files there) and exits.
 */
async function cancelMain(signal: StopSignal, state: PostState, report: Report): Promise<void> {
  cancelledBy = signal;
  process.exitCode = 1;
  refuseNewChildren(`the step was cancelled (${signal})`);
  try {
    await stopDescendants(graceFor(signal));
  } finally {
    state.buildSucceeded = false;
    state.cancelled = signal;
    saveState(state);
    report.error = `Cancelled (${signal}): stopped the build and the layer cache restore; post removes what they left.`;
    core.setFailed(report.error);
    await appendSummary(renderMainSummary(report)).catch(() => undefined);
    // Synchronously, right before exiting: nothing of the restore can write there again.
    if (state.workDir) rmSync(state.workDir, { recursive: true, force: true });
    process.exit(1);
  }
}

export async function runMain(): Promise<void> {
  const state: PostState = { version: 1, buildSucceeded: false, loggedIn: [] };
  // What is known so far, for the job summary (written also when the run fails).
  const report: Report = { tags: [], pushed: false, pushReason: '', secretIds: [] };
  let buildStarted: number | undefined;
  onStopSignal((signal) => (cancelling = cancelMain(signal, state, report)));
  core.info(`Running on Node.js ${process.version}.`);
  try {
    const inputs = readInputs();
    for (const w of inputs.warnings ?? []) core.warning(w);
    maskSecrets(inputs.secrets);
    for (const w of credentialBuildArgWarnings(inputs.buildArgs)) core.warning(w);
    if (inputs.password) core.setSecret(inputs.password);
    for (const c of inputs.registryAuth) core.setSecret(c.password);
    if (inputs.githubToken) core.setSecret(inputs.githubToken);
    const ctx = contextFromEnv();
    const git = inputs.metadataContext === 'git' ? await gitFacts(realCwd()) : undefined;
    const plan = planRun(inputs, ctx, process.env, git);
    state.workDir = plan.root;
    for (const w of plan.meta.warnings) core.warning(w);
    setPlanOutputs(plan, inputs);
    const d = plan.decisions;
    core.info(`${d.push ? 'Pushing' : 'Not pushing'} (${d.pushReason}). Tags:${plan.meta.tags.length ? '\n  ' + plan.meta.tags.join('\n  ') : ' none'}`);
    Object.assign(report, { tags: plan.meta.tags, pushReason: d.pushReason, pushPlanned: d.push, secretIds: inputs.secrets.map((s) => s.id), dockerfile: plan.build.file });

    if (inputs.dryRun) {
      plan.build.secretSpecs = inputs.secrets.map((s) => `id=${s.id},${s.source.kind === 'env' ? 'env=' + s.source.name : 'src=<file>'}`);
      if (plan.cache) plan.build.cacheFrom = localCacheFrom(plan.cache.paths.layoutIn);
      core.info(`Dry run: ${displayCommand('docker', buildxArgv(plan.build))}`);
      core.setOutput('cache-hit', plan.cache ? 'miss' : 'disabled');
      for (const o of ['builder', 'driver', 'platforms', 'buildx-version']) core.setOutput(o, '');
      core.setOutput('digest', '');
      core.setOutput('imageid', '');
      core.setOutput('metadata', '');
      report.dryRun = true;
      return;
    }

    Object.assign(report, { platforms: inputs.platforms.length ? inputs.platforms : undefined, distribute: inputs.distribute === 'off' ? undefined : inputs.distribute });
    core.setOutput('built-platforms', inputs.platforms.join(','));
    core.setOutput('platform-digests', '{}');
    if (inputs.distribute === 'merge') return await runMerge(inputs, ctx, plan, state, report);

    // Before any Docker work: the context, the Dockerfile and the target stage (a dry run reads no files).
    await checkBuildFiles(inputs, ctx.workspace, realCwd());
    await checkSecretSources(inputs.secrets);
    const secretValues = await readSecretValues(inputs.secrets);
    // From here on only `docker buildx build` gets the variables secret-envs names (see exec.ts).
    withholdEnv(inputs.secrets.flatMap((s) => (s.source.kind === 'env' ? [s.source.name] : [])));
    const docker = await setupDocker(inputs, ctx, state, { images: plan.meta.images, push: d.push, skipLogin: d.skipLogin, platforms: inputs.platforms, byDigest: !!plan.build.pushByDigest });
    if (docker.emulation?.arches.length) report.emulated = docker.emulation;
    report.toolchain = { docker: docker.toolchain.dockerVersion, buildx: docker.toolchain.buildxVersion, driver: docker.builder.driver, builder: docker.builder.name };
    report.toolchain.buildkit = docker.builder.buildkitVersion || undefined;
    const att = attestationsFor(inputs, { driver: docker.builder.driver, containerdStore: docker.toolchain.containerdStore });
    if (att.note) core.info(att.note);
    plan.build.provenance = att.provenance;
    plan.build.sbom = att.sbom;
    const access = planCacheAccess(inputs.cacheFetch, {
      driver: docker.builder.driver,
      containerdStore: docker.toolchain.containerdStore,
      hostNetwork: !!docker.builder.hostNetwork,
      buildkitVersion: effectiveBuildkitVersion(docker.builder.driver, docker.builder.buildkitVersion, docker.toolchain.dockerVersion),
    });
    // The phases below still share `state`: the keeper writes into it.
    const keeper: StateKeeper = { state, update: (patch) => (Object.assign(state, patch), saveState(state)) };
    const restored = await restorePhase(plan, keeper, { mode: inputs.cacheFetch, access, builder: report.toolchain.builder });
    const cacheSession = restored.session;
    if (restored.cache) report.cache = restored.cache;
    if (restored.mounts) report.mounts = restored.mounts;
    Object.assign(plan.build, cacheSession.args);
    const recoverCache = async () => {
      const args = await cacheSession.recover();
      if (args) Object.assign(plan.build, args);
      return !!args;
    };
    core.setOutput('cache-hit', cacheSession.hit);

    if (inputs.build.call) await checkCallSupported(docker);
    buildStarted = Date.now();
    let result;
    let testFailure: TestFailedError | undefined;
    try {
      result = await buildPhase(inputs, ctx, plan, docker, state, report, secretValues, recoverCache, {
        export: () => exportMountsPhase(state.mounts, state.dockerConfig),
        drop: () => dropMountExports(state.mounts),
      });
    } catch (err) {
      if (!(err instanceof TestFailedError)) throw err;
      testFailure = err;
    } finally {
      const closed = await cacheSession.close(result?.cacheDigest ?? testFailure?.cacheDigest);
      if (closed) report.cache = closed;
      core.setOutput('cache-hit', cacheSession.hit);
    }
    if (testFailure || !result) {
      // The build succeeded and the leak guard passed: post saves the layer cache, so that the
      // run with the fix starts warm. Nothing was pushed or exported.
      state.buildSucceeded = true;
      state.testFailed = true;
      if (state.cache) state.cache.buildMs = report.buildMs;
      saveState(state);
      throw testFailure;
    }
    state.buildSucceeded = true;
    if (state.cache) state.cache.buildMs = report.buildMs;
    saveState(state);
    core.setOutput('digest', result.digest);
    core.setOutput('imageid', result.imageid);
    core.setOutput('metadata', JSON.stringify(result.metadata ?? {}));
    report.pushed = d.push;
    report.digest = result.digest;
    report.imageid = result.imageid;
    if (plan.build.pushByDigest && result.digest) core.info(`Pushed ${inputs.platforms[0]} by digest (no tag): ${result.digest}`);
    else if (d.push) core.info(`Pushed ${plan.meta.tags.length} tag(s) at ${result.digest}`);
    if (result.digest) {
      const ref = `${plan.meta.images[0]}@${result.digest}`;
      const got = await inspectImage(ref, docker.env, inputs.platforms.length === 1 ? inputs.platforms[0] : '');
      if (got) report.platformDigests = got.platforms;
      else core.warning(`platform-digests: ${ref} could not be read back from the registry; the output is empty.`);
      core.setOutput('platform-digests', JSON.stringify(report.platformDigests ?? {}));
    }
    if (plan.build.pushByDigest && result.digest) report.handoverKey = await handOverDigest(plan, ctx, inputs.platforms[0], result.digest);
  } catch (err) {
    // A cancelled step fails with cancelMain's line, not with what the stopped program said.
    if (cancelledBy) return;
    saveState(state);
    if (buildStarted !== undefined && report.buildMs === undefined) report.buildMs = Date.now() - buildStarted;
    failStep(err, report);
  } finally {
    if (!cancelledBy) await appendSummary(renderMainSummary(report));
    // The stopped program may end before the cancel has cleaned up: the cancel exits, not main.
    if (cancelling) await cancelling;
  }
}

/** distribute: merge: no build; the platform jobs' digests joined into one index under every tag. */
async function runMerge(inputs: Inputs, ctx: Context, plan: RunPlan, state: PostState, report: Report): Promise<void> {
  const d = plan.decisions;
  // Only imagetools runs: the daemon's own builder is enough (none is created, no QEMU).
  const mergeInputs: Inputs = { ...inputs, builder: { ...inputs.builder, driver: 'docker' } };
  const docker = await setupDocker(mergeInputs, ctx, state, { images: plan.meta.images, push: d.push, skipLogin: d.skipLogin, platforms: [] });
  report.toolchain = { docker: docker.toolchain.dockerVersion, buildx: docker.toolchain.buildxVersion, driver: docker.builder.driver, builder: docker.builder.name };
  core.setOutput('cache-hit', 'disabled');
  const merged = await mergePhase(plan, ctx, docker, inputs.platforms, inputs.distributeWaitSeconds ?? DEFAULT_DISTRIBUTE_WAIT, report);
  state.buildSucceeded = true;
  saveState(state);
  core.setOutput('digest', merged?.digest ?? '');
  core.setOutput('imageid', '');
  core.setOutput('platform-digests', JSON.stringify(merged?.platformDigests ?? {}));
  if (merged) Object.assign(report, { pushed: true, digest: merged.digest, platformDigests: merged.platformDigests });
}

/**
 * Fails the step with one line. A failed buildx command fails with buildx's own `ERROR: ...` line,
 * annotated on the Dockerfile line it names; anything else with describeError's line.
 */
function failStep(err: unknown, report: Report): void {
  if (err instanceof ExecError && err.command === 'docker buildx') {
    const f = parseBuildxFailure(`${err.result.stdout}\n${err.result.stderr}`);
    const workspace = realWorkspace() || realCwd();
    report.error = f.message || err.message;
    report.errorLocation = report.dockerfile ? annotationTarget(f, report.dockerfile, workspace) : undefined;
    annotateFailure(report.error, report.errorLocation);
    return;
  }
  report.error = boundMessage(describeError(err));
  core.setFailed(report.error);
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
