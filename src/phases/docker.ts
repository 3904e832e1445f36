// Phase: Docker and buildx (installing a pinned or the latest buildx when asked), registry logins,
// and the builder. Everything runs with the job's private DOCKER_CONFIG, which post deletes.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import { InputError } from '../input-error.js';
import type { Context } from '../context.js';
import { buildxPluginPath, dockerEnv, makeDockerConfig, probeBuildx, probeDocker, ToolError, LoginError } from '../docker/docker.js';
import type { Toolchain } from '../docker/docker.js';
import { installBuildx, resolveLatest, BUILDX_INPUT } from '../docker/buildx-install.js';
import type { InstallEnv } from '../docker/buildx-install.js';
import { builderDriverOpts, builderName, contextBuilderName, createBuilder, driverOptValue, inspectBuilder, resolveDriver } from '../docker/builder.js';
import type { Builder, CreatePlan, Inspected } from '../docker/builder.js';
import { appendNodeArgv } from '../docker/builder-extra.js';
import { run, lastMeaningfulLine } from '../exec.js';
import { configuredRegistries, login, planLogins, prepareConfigForLogins, registryLabel } from '../docker/login.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';
import { emulationPhase } from './emulation.js';
import type { EmulationResult } from './emulation.js';

export type { Builder } from '../docker/builder.js';

export interface DockerSetup {
  /** The environment for every docker command from here on (carries the private DOCKER_CONFIG). */
  env: Record<string, string>;
  toolchain: Toolchain;
  builder: Builder;
  /** QEMU handlers for the build's platforms (emulation.ts). */
  emulation?: EmulationResult;
}

/** What the run will do with the images (for the automatic ghcr.io login). */
export interface ImageIntent {
  images: string[];
  push: boolean;
  /** Make no registry login, for this reason (a pull request from a fork: no secrets to log in with). */
  skipLogin?: string;
  /** The platforms this step builds (QEMU is set up for those the runner cannot run). */
  platforms?: string[];
  /** distribute: platform: the build pushes by digest, which the docker driver cannot. */
  byDigest?: boolean;
}

/** The driver to use: resolveDriver's, but never the docker driver for a push by digest. */
function pickDriver(inputs: Inputs, containerdStore: boolean, byDigest: boolean): ReturnType<typeof resolveDriver> {
  if (byDigest && inputs.builder.driver === 'auto') return { driver: 'docker-container', reason: 'auto: distribute: platform pushes by digest, which the docker driver cannot' };
  const x = inputs.builderExtra;
  return resolveDriver(inputs.builder, containerdStore, inputs.cache, !!(x.name || x.append.length));
}

function installEnv(inputs: Inputs, ctx: Context): InstallEnv {
  const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
  return {
    platform: process.platform,
    arch: process.arch,
    armVersion: armVersion === undefined ? undefined : String(armVersion),
    githubToken: inputs.githubToken,
    serverUrl: ctx.serverUrl,
  };
}

export async function setupDocker(inputs: Inputs, ctx: Context, state: PostState, intent: ImageIntent = { images: [], push: false }): Promise<DockerSetup> {
  state.dockerConfig = await makeDockerConfig(ctx.runnerTemp);
  saveState(state);
  const dockerConfig = state.dockerConfig;
  const env = dockerEnv(dockerConfig);

  // Asked now, beside the probes; the docker driver's builder is named after the context. When
  // that builder may be the one used (and the runner's own buildx is), it is inspected now too.
  const contextName = contextBuilderName(env).catch(() => 'default');
  const mayUseContext = !inputs.buildx.version && !inputs.builderExtra.existing && pickDriver(inputs, true, !!intent.byDigest).driver === 'docker';
  const early = mayUseContext ? earlyInspect(contextName, env) : undefined;
  const toolchain = await core.group('Docker and buildx', async (): Promise<Toolchain> => {
    // Side by side: each is a docker CLI start (docker info also asks every CLI plugin for its metadata).
    const [daemon, found] = await Promise.all([probeDocker(env), probeBuildx(env)]);
    core.info(`Docker ${daemon.dockerVersion}, containerd image store: ${daemon.containerdStore}`);
    let bx = found;
    let bxPath = daemon.buildxPath;
    let want = inputs.buildx.version;
    if (!want && !bx) {
      core.info('No buildx plugin is installed: installing the latest release.');
      want = 'latest';
    }
    if (want) {
      const ie = installEnv(inputs, ctx);
      const version = want === 'latest' ? await resolveLatest(inputs.buildx, ie) : want;
      if (want === 'latest') core.info(`The latest buildx release is ${version}.`);
      const inst = await installBuildx(version, inputs.buildx, dockerConfig, ctx.runnerTemp, ie);
      core.info(`buildx ${version} ${inst.fromCache ? 'from the tool cache' : `downloaded and verified in ${inst.downloadMs} ms`}, installed for this job only: ${inst.plugin}`);
      bx = await probeBuildx(env);
      bxPath = await buildxPluginPath(env);
      if (!bx) throw new ToolError(`${BUILDX_INPUT}: the installed buildx ${version} does not run as a Docker CLI plugin on this runner`);
      if (!sameRelease(bx, version)) core.warning(`${BUILDX_INPUT}: the installed plugin reports version ${bx}, not ${version}`);
    }
    if (!bx) throw new ToolError('buildx: the docker buildx plugin is not installed');
    core.info(`buildx ${bx}${bxPath ? ` (${bxPath})` : ''}`);
    return { dockerVersion: daemon.dockerVersion, buildxVersion: bx, buildxPath: bxPath, containerdStore: daemon.containerdStore };
  });

  const userConfig = await fs.readFile(path.join(dockerConfig, 'config.json'), 'utf8').catch(() => '{}');
  const plan = intent.skipLogin
    ? { logins: [], notes: [`No registry login: ${intent.skipLogin}.`] }
    : planLogins(
        { registry: inputs.registry, username: inputs.username, password: inputs.password, ecr: inputs.ecr, scope: inputs.scope, registryAuth: inputs.registryAuth, githubToken: inputs.githubToken },
        intent.images,
        ctx.actor,
        configuredRegistries(userConfig),
        process.env,
      );
  for (const l of plan.logins) core.setSecret(l.password);
  if (plan.logins.length || plan.notes.length) {
    await core.group(`Registry login${plan.logins.length ? `: ${plan.logins.map((l) => registryLabel(l.registry)).join(', ')}` : ''}`, async () => {
      for (const n of plan.notes) core.info(n);
      await prepareConfigForLogins(dockerConfig, plan.logins.map((l) => l.registry));
      for (const l of plan.logins) {
        // Recorded before the attempt: post logs out even after a half-finished login.
        state.loggedIn.push(l.registry);
        saveState(state);
        try {
          await login(l, env);
        } catch (err) {
          // The automatic ghcr.io login only matters when pushing; a read-only build goes on without it.
          if (l.input === 'github-token' && !intent.push && err instanceof LoginError) core.warning(err.message);
          else throw err;
        }
      }
    });
  }

  // Before the builder is created, so that a new builder's BuildKit finds the emulators.
  const emulation = await emulationPhase(
    { platforms: intent.platforms ?? [], driver: pickDriver(inputs, toolchain.containerdStore, !!intent.byDigest).driver, enabled: inputs.qemu !== false, image: inputs.qemuImage },
    env,
  );
  const builder = await core.group('Builder', async (): Promise<Builder> => {
    const x = inputs.builderExtra;
    if (x.existing) {
      // An existing builder (build-push-action's `builder`): used as it is, never removed.
      const ins = await inspectBuilder(x.existing, env, 'builder');
      core.info(`Builder ${x.existing} (builder: an existing one, used as it is): driver ${ins.driver || 'unknown'}, BuildKit ${ins.buildkitVersion || 'unknown'}`);
      core.info(`Builder platforms: ${ins.platforms.join(', ') || 'unknown'}`);
      return { name: x.existing, driver: ins.driver || 'docker-container', created: false, buildkitVersion: ins.buildkitVersion, platforms: ins.platforms, hostNetwork: false };
    }
    const { driver, reason } = pickDriver(inputs, toolchain.containerdStore, !!intent.byDigest);
    let name: string;
    let created = false;
    let hostNetwork = false;
    if (driver === 'docker') {
      name = await contextName;
    } else {
      name = x.name || builderName(ctx.runId, randomBytes(3).toString('hex'));
      let configFile = inputs.builder.buildkitdConfig;
      if (configFile && !(await fs.stat(configFile).then((st) => st.isFile(), () => false))) {
        throw new InputError('buildkitd-config', `no such file: ${configFile}`);
      }
      if (inputs.builder.buildkitdConfigInline.trim()) {
        configFile = path.join(dockerConfig, 'buildkitd.toml');
        await fs.writeFile(configFile, inputs.builder.buildkitdConfigInline, { mode: 0o600 });
      }
      // On the runner's network, where the loopback registry of lazy fetching listens (it takes
      // this run's credential, so other processes there cannot use it).
      const driverOpts = driver === 'docker-container' ? builderDriverOpts(inputs.builder.driverOpts) : inputs.builder.driverOpts;
      hostNetwork = driver === 'docker-container' && driverOptValue(driverOpts, 'network') === 'host';
      if (driverOpts.length !== inputs.builder.driverOpts.length) core.info('Builder gets network=host: its BuildKit reaches the runner\'s loopback, so cached layers can be fetched lazily.');
      const p: CreatePlan = {
        name,
        driver,
        endpoint: inputs.builder.endpoint,
        driverOpts,
        buildkitdFlags: inputs.builder.buildkitdFlags,
        buildkitdConfigFile: configFile,
        platforms: inputs.builder.platforms,
        buildxVersion: toolchain.buildxVersion,
      };
      // Recorded before creation: post removes a half-created builder too (keep-builder applies
      // only to one that was created).
      state.builder = { name, created: true, keep: false, keepState: x.keepState };
      saveState(state);
      created = true;
      await createBuilder(p, env);
      for (const node of x.append) {
        const res = await run('docker', appendNodeArgv(name, node), { env, ignoreReturnCode: true });
        if (res.exitCode !== 0) throw new ToolError(`append: adding node ${node.name} to builder ${name} failed: ${lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `exit code ${res.exitCode}`}`);
      }
      state.builder.keep = inputs.builder.keep;
      saveState(state);
    }
    // The early inspection predates handlers this step registered: then the builder is asked again.
    const fresh = driver === 'docker' && !emulation.registered.length ? await early : undefined;
    const ins = fresh ?? (await inspectBuilder(name, env));
    core.info(`Builder ${name}: driver ${ins.driver || driver} (${reason}), BuildKit ${ins.buildkitVersion || 'unknown'}`);
    core.info(`Builder platforms: ${ins.platforms.join(', ') || 'unknown'}`);
    if (created && inputs.builder.keep) core.info('keep-builder: true, so post keeps this builder.');
    return { name, driver: ins.driver || driver, created, buildkitVersion: ins.buildkitVersion, platforms: ins.platforms, hostNetwork };
  });
  core.setOutput('builder', builder.name);
  core.setOutput('driver', builder.driver);
  core.setOutput('platforms', builder.platforms.join(','));
  core.setOutput('buildx-version', toolchain.buildxVersion);
  return { env, toolchain, builder, emulation };
}

/** The context builder's inspection, started early; undefined when it failed (the caller asks again). */
function earlyInspect(name: Promise<string>, env: Record<string, string>): Promise<Inspected | undefined> {
  return name.then((n) => inspectBuilder(n, env)).catch(() => undefined);
}

/** `0.13.1+ds1` is release `v0.13.1`. */
function sameRelease(reported: string, version: string): boolean {
  const core_ = (v: string) => v.replace(/^v/, '').replace(/[+].*$/, '');
  return core_(reported) === core_(version);
}
