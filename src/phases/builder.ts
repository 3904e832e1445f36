// Phase: the builder: QEMU handlers first (a new builder's BuildKit finds the emulators), then an
// existing builder inspected as it is, the context's builder (docker driver), or a builder of this
// run's own created (recorded for post before it exists) and inspected.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { InputError } from '../input-error.js';
import { ToolError } from '../docker/docker.js';
import { builderDriverOpts, builderName, contextBuilderName, createBuilder, driverOptValue, inspectBuilder, resolveDriver } from '../docker/builder.js';
import type { Builder, BuilderOptions, CreatePlan, Driver, Inspected } from '../docker/builder.js';
import { appendNodeArgv } from '../docker/builder-extra.js';
import type { BuilderExtra } from '../docker/builder-extra.js';
import { run, lastMeaningfulLine } from '../exec.js';
import type { StateKeeper } from '../state.js';
import { emulationPhase } from './emulation.js';
import type { EmulationResult } from './emulation.js';

interface PickedDriver {
  driver: Driver;
  reason: string;
}

/** The driver to use: resolveDriver's, but never the docker driver for a push by digest. */
export function pickDriver(
  o: { builder: BuilderOptions; builderExtra: BuilderExtra; cache: boolean },
  containerdStore: boolean,
  byDigest: boolean,
): PickedDriver {
  if (byDigest && o.builder.driver === 'auto')
    return { driver: 'docker-container', reason: 'auto: distribute: platform pushes by digest, which the docker driver cannot' };
  const x = o.builderExtra;
  return resolveDriver(o.builder, containerdStore, o.cache, !!(x.name || x.append.length));
}

/** The current Docker context's builder (the docker driver's), asked early beside the toolchain probes. */
interface ContextBuilder {
  name: Promise<string>;
  /** Its inspection, when asked for; undefined when it failed (then it is asked again). */
  inspected?: Promise<Inspected | undefined>;
}

/** Starts asking for the context's builder name, and for its inspection when `inspect`. */
export function lookUpContextBuilder(env: Record<string, string>, inspect: boolean): ContextBuilder {
  const name = contextBuilderName(env).catch(() => 'default');
  return { name, inspected: inspect ? name.then((n) => inspectBuilder(n, env)).catch(() => undefined) : undefined };
}

interface BuilderNeeds {
  builder: BuilderOptions;
  builderExtra: BuilderExtra;
  picked: PickedDriver;
  /** The build's platforms and `qemu`, `qemu-image` (see emulation.ts). */
  platforms: string[];
  qemu: boolean;
  qemuImage?: string;
  runId: string;
  buildxVersion: string;
  dockerConfig: string;
  context: ContextBuilder;
}

interface BuilderSetup {
  builder: Builder;
  emulation: EmulationResult;
}

/** QEMU for the build's platforms, then the builder (its own group). */
export async function builderPhase(o: BuilderNeeds, env: Record<string, string>, keeper: StateKeeper): Promise<BuilderSetup> {
  // Before the builder is created, so that a new builder's BuildKit finds the emulators.
  const emulation = await emulationPhase({ platforms: o.platforms, driver: o.picked.driver, enabled: o.qemu, image: o.qemuImage }, env);
  const builder = await core.group('Builder', async (): Promise<Builder> => {
    const x = o.builderExtra;
    if (x.existing) {
      // An existing builder (build-push-action's `builder`): used as it is, never removed.
      const ins = await inspectBuilder(x.existing, env, 'builder');
      core.info(
        `Builder ${x.existing} (builder: an existing one, used as it is): driver ${ins.driver || 'unknown'}, BuildKit ${ins.buildkitVersion || 'unknown'}`,
      );
      core.info(`Builder platforms: ${ins.platforms.join(', ') || 'unknown'}`);
      return {
        name: x.existing,
        driver: ins.driver || 'docker-container',
        created: false,
        buildkitVersion: ins.buildkitVersion,
        platforms: ins.platforms,
        hostNetwork: false,
      };
    }
    const { driver, reason } = o.picked;
    const made = driver === 'docker' ? { name: await o.context.name, hostNetwork: false } : await newBuilder(o, driver, env, keeper);
    const { name } = made;
    const created = driver !== 'docker';
    // The early inspection predates handlers this step registered: then the builder is asked again.
    const fresh = driver === 'docker' && !emulation.registered.length ? await o.context.inspected : undefined;
    const ins = fresh ?? (await inspectBuilder(name, env));
    core.info(`Builder ${name}: driver ${ins.driver || driver} (${reason}), BuildKit ${ins.buildkitVersion || 'unknown'}`);
    core.info(`Builder platforms: ${ins.platforms.join(', ') || 'unknown'}`);
    if (created && o.builder.keep) core.info('keep-builder: true, so post keeps this builder.');
    return { name, driver: ins.driver || driver, created, buildkitVersion: ins.buildkitVersion, platforms: ins.platforms, hostNetwork: made.hostNetwork };
  });
  return { builder, emulation };
}

/** Creates this run's builder (and its `append` nodes); recorded for post before it exists. */
async function newBuilder(
  o: BuilderNeeds,
  driver: Exclude<Driver, 'docker'>,
  env: Record<string, string>,
  keeper: StateKeeper,
): Promise<{ name: string; hostNetwork: boolean }> {
  const x = o.builderExtra;
  const name = x.name || builderName(o.runId, randomBytes(3).toString('hex'));
  let configFile = o.builder.buildkitdConfig;
  if (
    configFile &&
    !(await fs.stat(configFile).then(
      (st) => st.isFile(),
      () => false,
    ))
  ) {
    throw new InputError('buildkitd-config', `no such file: ${configFile}`);
  }
  if (o.builder.buildkitdConfigInline.trim()) {
    configFile = path.join(o.dockerConfig, 'buildkitd.toml');
    await fs.writeFile(configFile, o.builder.buildkitdConfigInline, { mode: 0o600 });
  }
  // On the runner's network, where the loopback registry of lazy fetching listens (it takes
  // this run's credential, so other processes there cannot use it).
  const driverOpts = driver === 'docker-container' ? builderDriverOpts(o.builder.driverOpts) : o.builder.driverOpts;
  const hostNetwork = driver === 'docker-container' && driverOptValue(driverOpts, 'network') === 'host';
  if (driverOpts.length !== o.builder.driverOpts.length)
    core.info("Builder gets network=host: its BuildKit reaches the runner's loopback, so cached layers can be fetched lazily.");
  const p: CreatePlan = {
    name,
    driver,
    endpoint: o.builder.endpoint,
    driverOpts,
    buildkitdFlags: o.builder.buildkitdFlags,
    buildkitdConfigFile: configFile,
    platforms: o.builder.platforms,
    buildxVersion: o.buildxVersion,
  };
  // Recorded before creation: post removes a half-created builder too (keep-builder applies
  // only to one that was created).
  keeper.update({ builder: { name, created: true, keep: false, keepState: x.keepState } });
  await createBuilder(p, env);
  for (const node of x.append) {
    const res = await run('docker', appendNodeArgv(name, node), { env, ignoreReturnCode: true });
    if (res.exitCode !== 0)
      throw new ToolError(
        `append: adding node ${node.name} to builder ${name} failed: ${lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `exit code ${res.exitCode}`}`,
      );
  }
  keeper.update({ builder: { name, created: true, keep: o.builder.keep, keepState: x.keepState } });
  return { name, hostNetwork };
}
