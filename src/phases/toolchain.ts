// Phase: Docker and buildx, probed side by side; a pinned or the latest buildx is installed into the
// job's private DOCKER_CONFIG when asked (or when the runner has none).
import * as core from '@actions/core';
import { buildxPluginPath, probeBuildx, probeDocker, ToolError } from '../docker/docker.js';
import type { Toolchain } from '../docker/docker.js';
import { installBuildx, resolveLatest, BUILDX_INPUT } from '../docker/buildx-install.js';
import type { BuildxRequest, InstallEnv } from '../docker/buildx-install.js';

interface ToolchainNeeds {
  /** `buildx-version` and `buildx-download-url`. */
  buildx: BuildxRequest;
  /** github-token (asks the GitHub API for the latest release) and the server it belongs to. */
  githubToken: string;
  serverUrl: string;
  runnerTemp: string;
  /** The job's private DOCKER_CONFIG, where an installed buildx is linked. */
  dockerConfig: string;
}

function installEnv(githubToken: string, serverUrl: string): InstallEnv {
  const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
  return {
    platform: process.platform,
    arch: process.arch,
    armVersion: armVersion === undefined ? undefined : String(armVersion),
    githubToken,
    serverUrl,
  };
}

/** The Docker daemon and the buildx plugin this job uses (installed first when asked or missing). */
export function toolchainPhase(o: ToolchainNeeds, env: Record<string, string>): Promise<Toolchain> {
  return core.group('Docker and buildx', async (): Promise<Toolchain> => {
    // docker info asks every CLI plugin for its metadata, buildx's version included: one CLI start
    // instead of two. A plugin that does not say runs `docker buildx version`.
    const daemon = await probeDocker(env);
    const found = daemon.buildxVersion || (await probeBuildx(env));
    core.info(`Docker ${daemon.dockerVersion}, containerd image store: ${daemon.containerdStore}`);
    let bx = found;
    let bxPath = daemon.buildxPath;
    let want = o.buildx.version;
    if (!want && !bx) {
      core.info('No buildx plugin is installed: installing the latest release.');
      want = 'latest';
    }
    if (want) {
      const ie = installEnv(o.githubToken, o.serverUrl);
      const version = want === 'latest' ? await resolveLatest(o.buildx, ie) : want;
      if (want === 'latest') core.info(`The latest buildx release is ${version}.`);
      const inst = await installBuildx(version, o.buildx, o.dockerConfig, o.runnerTemp, ie);
      core.info(
        `buildx ${version} ${inst.fromCache ? 'from the tool cache' : `downloaded and verified in ${inst.downloadMs} ms`}, installed for this job only: ${inst.plugin}`,
      );
      bx = await probeBuildx(env);
      bxPath = await buildxPluginPath(env);
      if (!bx) throw new ToolError(`${BUILDX_INPUT}: the installed buildx ${version} does not run as a Docker CLI plugin on this runner`);
      if (!sameRelease(bx, version)) core.warning(`${BUILDX_INPUT}: the installed plugin reports version ${bx}, not ${version}`);
    }
    if (!bx) throw new ToolError('buildx: the docker buildx plugin is not installed');
    core.info(`buildx ${bx}${bxPath ? ` (${bxPath})` : ''}`);
    return { dockerVersion: daemon.dockerVersion, buildxVersion: bx, buildxPath: bxPath, containerdStore: daemon.containerdStore };
  });
}

/** `0.13.1+ds1` is release `v0.13.1`. */
function sameRelease(reported: string, version: string): boolean {
  const core_ = (v: string) => v.replace(/^v/, '').replace(/[+].*$/, '');
  return core_(reported) === core_(version);
}
