// Docker and buildx on this runner: finding them, the job's private DOCKER_CONFIG (credentials and
// an installed buildx live there), and cleaning up.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { run, lastMeaningfulLine } from '../exec.js';

/** Inputs holding registry credentials: Docker and its plugins never need them in their environment. */
const CREDENTIAL_INPUTS = new Set(['INPUT_PASSWORD', 'INPUT_REGISTRY-AUTH', 'INPUT_GITHUB-TOKEN']);

/** The environment every docker command of this job gets (with the job's private DOCKER_CONFIG). */
export function dockerEnv(dockerConfig: string | undefined, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !CREDENTIAL_INPUTS.has(k)) env[k] = v;
  if (dockerConfig) env.DOCKER_CONFIG = dockerConfig;
  return env;
}

export interface Toolchain {
  dockerVersion: string;
  buildxVersion: string;
  /** The plugin binary the Docker CLI runs for `docker buildx` ('' when it does not say). */
  buildxPath: string;
  /** The daemon stores images in containerd, so the docker driver can export cache. */
  containerdStore: boolean;
}

export class ToolError extends Error {}

interface DockerDaemon {
  dockerVersion: string;
  containerdStore: boolean;
  /** The buildx plugin the Docker CLI would run ('' when there is none or it does not say). */
  buildxPath: string;
  /** The version that plugin reports in its metadata (as `docker buildx version` prints it; '' when it does not say). */
  buildxVersion: string;
}

export async function probeDocker(env: Record<string, string>): Promise<DockerDaemon> {
  // One `docker info` for the server's version, its image store and the CLI's buildx plugin path.
  const info = await run('docker', ['info', '--format', `{{.ServerVersion}}\n{{json .DriverStatus}}\n${BUILDX_PATH_FORMAT}`], {
    env,
    silent: true,
    ignoreReturnCode: true,
  }).catch((err: Error) => ({ exitCode: 127, stdout: '', stderr: err.message }));
  if (info.exitCode === 127 || /ENOENT|Unable to locate/.test(info.stderr)) {
    throw new ToolError('docker: the docker CLI was not found on PATH; this action needs Docker Engine on the runner.');
  }
  const [version = '', status = '', plugin = ''] = info.stdout.split('\n');
  const [buildxPath = '', buildxVersion = ''] = plugin.split('\t');
  if (info.exitCode !== 0 || !version.trim()) {
    throw new ToolError(`docker: the Docker daemon is unreachable: ${lastMeaningfulLine(info.stderr) || 'no answer'}`);
  }
  return {
    dockerVersion: version.trim(),
    containerdStore: status.includes('io.containerd.snapshotter'),
    buildxPath: buildxPath.trim(),
    buildxVersion: buildxVersion.trim(),
  };
}

/** The buildx plugin's path and, tab-separated, its version (from the metadata every plugin gives the CLI). */
const BUILDX_PATH_FORMAT = '{{range .ClientInfo.Plugins}}{{if eq .Name "buildx"}}{{.Path}}\t{{.Version}}{{end}}{{end}}';

/** The buildx plugin path the Docker CLI reports (after installing one, to see that it is the one run). */
export async function buildxPluginPath(env: Record<string, string>): Promise<string> {
  const res = await run('docker', ['info', '--format', BUILDX_PATH_FORMAT], { env, silent: true, ignoreReturnCode: true });
  return res.exitCode === 0 ? (res.stdout.split('\t')[0] ?? '').trim() : '';
}

/** The version of the buildx plugin the Docker CLI runs with this environment, or undefined when there is none. */
export async function probeBuildx(env: Record<string, string>): Promise<string | undefined> {
  // Runs beside probeDocker: a missing docker CLI is probeDocker's error to report.
  const bx = await run('docker', ['buildx', 'version'], { env, silent: true, ignoreReturnCode: true }).catch(() => undefined);
  if (!bx || bx.exitCode !== 0) return undefined;
  // `github.com/docker/buildx v0.19.3 abc123` -> `v0.19.3`.
  const first = bx.stdout.trim().split(/\r?\n/)[0] ?? '';
  return first.split(/\s+/)[1] ?? first;
}

/** The exact argv that removes a builder post created (keep-state keeps its BuildKit state). */
export function removeBuilderArgv(name: string, keepState: boolean): string[] {
  return ['buildx', 'rm', ...(keepState ? ['--keep-state'] : []), '--force', name];
}

export async function removeBuilder(
  b: { name: string; created: boolean; keep?: boolean; keepState?: boolean } | undefined,
  env: Record<string, string>,
): Promise<void> {
  if (!b?.created) return;
  if (b.keep) {
    core.info(`Kept builder ${b.name} (keep-builder: true).`);
    return;
  }
  const res = await run('docker', removeBuilderArgv(b.name, !!b.keepState), { env, silent: true, ignoreReturnCode: true });
  if (res.exitCode === 0) core.info(`Removed builder ${b.name}${b.keepState ? ' (its BuildKit state kept: keep-state: true)' : ''}.`);
  else core.warning(`Could not remove builder ${b.name}: ${lastMeaningfulLine(res.stderr) || `exit code ${res.exitCode}`}`);
}

/**
 * A private DOCKER_CONFIG for this job under RUNNER_TEMP (mode 0700), starting from the user's
 * config.json (so earlier logins still work). Its cli-plugins directory links each of the user's
 * plugins (a buildx this action installs replaces only the link), and its buildx directory is the
 * user's, so a builder kept with keep-builder stays usable by later steps.
 */
export async function makeDockerConfig(runnerTemp: string, base: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = path.join(runnerTemp, `obc-docker-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const userDir = base.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  const plugins = path.join(dir, 'cli-plugins');
  await fs.mkdir(plugins);
  try {
    for (const e of await fs.readdir(path.join(userDir, 'cli-plugins'))) {
      await fs.symlink(path.join(userDir, 'cli-plugins', e), path.join(plugins, e));
    }
  } catch {
    /* no user plugins */
  }
  try {
    await fs.mkdir(path.join(userDir, 'buildx'), { recursive: true });
    await fs.symlink(path.join(userDir, 'buildx'), path.join(dir, 'buildx'));
  } catch {
    /* the user's config directory is not writable: builders live in the private one */
  }
  try {
    await fs.copyFile(path.join(userDir, 'config.json'), path.join(dir, 'config.json'));
    await fs.chmod(path.join(dir, 'config.json'), 0o600);
  } catch {
    await fs.writeFile(path.join(dir, 'config.json'), '{}', { mode: 0o600 });
  }
  return dir;
}

export class LoginError extends Error {}

/** Logs out of every registry and deletes the private Docker config with everything in it. */
export async function logoutAndForget(dockerConfig: string | undefined, registries: string[], env: Record<string, string>): Promise<void> {
  if (!dockerConfig) return;
  try {
    for (const r of registries) {
      await run('docker', ['logout', ...(r === '' || r === 'docker.io' ? [] : [r])], { env, silent: true, ignoreReturnCode: true });
    }
  } finally {
    await fs.rm(dockerConfig, { recursive: true, force: true });
  }
}
