// The main step: resolve inputs and context, prepare Docker, restore the layer cache, build, push.
import * as core from '@actions/core';
import { readInputs, InputError } from './inputs.js';
import { contextFromEnv } from './context.js';
import { MetaInputError } from './meta/index.js';
import { planRun } from './plan.js';
import type { RunPlan } from './plan.js';
import { buildxArgv, displayCommand } from './docker/argv.js';
import { ToolError, LoginError } from './docker/docker.js';
import { checkSecretSources, maskSecrets } from './secrets.js';
import { ExecError } from './exec.js';
import { saveState } from './state.js';
import type { PostState } from './state.js';
import type { Report } from './report.js';
import { setupDocker } from './phases/docker.js';
import { restorePhase } from './phases/cache.js';
import { buildPhase } from './phases/build.js';

function setPlanOutputs(plan: RunPlan): void {
  const { meta } = plan;
  core.setOutput('tags', meta.tags.join('\n'));
  core.setOutput('version', meta.version);
  core.setOutput('labels', meta.labels.join('\n'));
  core.setOutput('annotations', meta.annotations.join('\n'));
  core.setOutput('json', JSON.stringify(meta.json));
  core.setOutput('cache-key', plan.cache?.keys.primary ?? '');
}

export async function runMain(): Promise<void> {
  const state: PostState = { version: 1, buildSucceeded: false, loggedIn: [] };
  try {
    const inputs = readInputs();
    maskSecrets(inputs.secrets);
    if (inputs.password) core.setSecret(inputs.password);
    if (inputs.githubToken) core.setSecret(inputs.githubToken);
    const ctx = contextFromEnv();
    const plan = planRun(inputs, ctx, process.env);
    for (const w of plan.meta.warnings) core.warning(w);
    setPlanOutputs(plan);
    const d = plan.decisions;
    core.info(`${d.push ? 'Pushing' : 'Not pushing'} (${d.pushReason}). Tags:${plan.meta.tags.length ? '\n  ' + plan.meta.tags.join('\n  ') : ' none'}`);
    const report: Report = { tags: plan.meta.tags, pushed: false, pushReason: d.pushReason, secretIds: inputs.secrets.map((s) => s.id) };

    if (inputs.dryRun) {
      plan.build.secretSpecs = inputs.secrets.map((s) => `id=${s.id},${s.source.kind === 'env' ? 'env=' + s.source.name : 'src=<file>'}`);
      if (plan.cache) plan.build.cacheFrom = plan.cache.paths.layoutIn;
      core.info(`Dry run: ${displayCommand('docker', buildxArgv(plan.build))}`);
      core.setOutput('cache-hit', plan.cache ? 'miss' : 'disabled');
      core.setOutput('builder', '');
      core.setOutput('digest', '');
      core.setOutput('imageid', '');
      return;
    }

    await checkSecretSources(inputs.secrets);
    const docker = await setupDocker(inputs, ctx, state);
    report.toolchain = { docker: docker.toolchain.dockerVersion, buildx: docker.toolchain.buildxVersion, driver: docker.builder.driver, builder: docker.builder.name };
    const hit = await restorePhase(plan, state, report);
    core.setOutput('cache-hit', hit);

    const result = await buildPhase(inputs, ctx, plan, docker, state, report);
    state.buildSucceeded = true;
    saveState(state);
    core.setOutput('digest', result.digest);
    core.setOutput('imageid', result.imageid);
    report.pushed = d.push;
    report.digest = result.digest;
    report.imageid = result.imageid;
    if (d.push) core.info(`Pushed ${plan.meta.tags.length} tag(s) at ${result.digest}`);
  } catch (err) {
    saveState(state);
    core.setFailed(describeError(err));
  }
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
