// The main step at the runner's edge: reads the inputs and the context, masks the secrets, hands
// core.ts's run() the outputs, the state for post and the report, and turns a failure or a
// cancel into one line and the job summary.
import { rmSync } from 'node:fs';
import * as core from '@actions/core';
import { readInputs } from './inputs.js';
import { InputError } from './input-error.js';
import type { Inputs } from './inputs.js';
import { gitFacts } from './meta/git.js';
import { contextFromEnv } from './context.js';
import { ToolError, LoginError } from './docker/docker.js';
import { credentialBuildArgWarnings, maskSecrets } from './secrets.js';
import { ExecError, refuseNewChildren } from './exec.js';
import { graceFor, onStopSignal, stopDescendants } from './interrupt.js';
import type { StopSignal } from './interrupt.js';
import { stateKeeper } from './state.js';
import type { StateKeeper } from './state.js';
import type { Report } from './report.js';
import { annotateFailure, annotationTarget, parseBuildxFailure } from './annotations.js';
import { appendSummary, renderMainSummary } from './summary.js';
import { realCwd, realWorkspace } from './workdir.js';
import { boundMessage } from './clip.js';
import { run } from './core.js';
import type { Deps, RunContext } from './core.js';

/** The signal that is cancelling this step, once one came, and the cancel under way (it exits). */
let cancelledBy: StopSignal | undefined;
let cancelling: Promise<void> | undefined;

/**
 * A cancelled step (SIGINT, or SIGTERM): stops every program it started, records for post that the
 * run was cancelled (post saves no cache), fails with one line, removes this action's working files
 * (a cache restore cut short leaves a partial archive and half-extracted files there) and exits.
 */
async function cancelMain(signal: StopSignal, keeper: StateKeeper, report: Report): Promise<void> {
  cancelledBy = signal;
  process.exitCode = 1;
  refuseNewChildren(`the step was cancelled (${signal})`);
  try {
    await stopDescendants(graceFor(signal));
  } finally {
    keeper.update({ buildSucceeded: false, cancelled: signal });
    report.error = `Cancelled (${signal}): stopped the build and the layer cache restore; post removes what they left.`;
    core.setFailed(report.error);
    await appendSummary(renderMainSummary(report)).catch(() => undefined);
    // Synchronously, right before exiting: nothing of the restore can write there again.
    const { workDir } = keeper.state;
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    process.exit(1);
  }
}

/** Masks every secret the inputs carry, and warns of build args that look like credentials. */
function maskInputs(inputs: Inputs): void {
  for (const w of inputs.warnings ?? []) core.warning(w);
  maskSecrets(inputs.secrets);
  for (const w of credentialBuildArgWarnings(inputs.buildArgs)) core.warning(w);
  if (inputs.password) core.setSecret(inputs.password);
  for (const c of inputs.registryAuth) core.setSecret(c.password);
  if (inputs.githubToken) core.setSecret(inputs.githubToken);
}

async function runContext(inputs: Inputs): Promise<RunContext> {
  const cwd = realCwd();
  return { github: contextFromEnv(), env: process.env, cwd, git: inputs.metadataContext === 'git' ? await gitFacts(cwd) : undefined };
}

export async function runMain(): Promise<void> {
  const keeper = stateKeeper({ version: 1, buildSucceeded: false, loggedIn: [] });
  // What is known so far, for the job summary (written also when the run fails).
  const report: Report = { tags: [], pushed: false, pushReason: '', secretIds: [] };
  const deps: Deps = {
    setOutput: (name, value) => core.setOutput(name, value),
    exportVariable: (name, value) => core.exportVariable(name, value),
    keeper,
    note: (part) => Object.assign(report, part),
  };
  onStopSignal((signal) => (cancelling = cancelMain(signal, keeper, report)));
  core.info(`Running on Node.js ${process.version}.`);
  try {
    const inputs = readInputs();
    maskInputs(inputs);
    await run(inputs, await runContext(inputs), deps);
  } catch (err) {
    // A cancelled step fails with cancelMain's line, not with what the stopped program said.
    if (cancelledBy) return;
    // Post cleans up after a failed run (what was made so far is in the state).
    keeper.update({});
    failStep(err, report);
  } finally {
    if (!cancelledBy) await appendSummary(renderMainSummary(report));
    // The stopped program may end before the cancel has cleaned up: the cancel exits, not main.
    if (cancelling) await cancelling;
  }
}

/**
 * Fails the step with one line. A failed buildx command fails with buildx's own `ERROR: ...` line,
 * annotated on the Dockerfile line it names; anything else with describeError's line.
 */
function failStep(err: unknown, report: Report): void {
  if (err instanceof ExecError && err.command === 'docker buildx') {
    const f = parseBuildxFailure(err.output);
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
function describeError(err: unknown): string {
  if (err instanceof InputError || err instanceof ToolError || err instanceof LoginError) return err.message;
  if (err instanceof ExecError) return err.message;
  if (err instanceof Error) {
    core.debug(err.stack ?? err.message);
    return err.message;
  }
  return String(err);
}
