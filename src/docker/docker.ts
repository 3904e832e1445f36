// Docker and buildx on this runner: finding them, choosing a builder that can export cache,
// logging in with a private DOCKER_CONFIG, and cleaning up.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { run, lastMeaningfulLine } from '../exec.js';

/** The environment every docker command of this job gets (a private DOCKER_CONFIG when logged in). */
export function dockerEnv(dockerConfig: string | undefined, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  if (dockerConfig) env.DOCKER_CONFIG = dockerConfig;
  return env;
}

export interface Toolchain {
  dockerVersion: string;
  buildxVersion: string;
  /** The daemon stores images in containerd, so the docker driver can export cache. */
  containerdStore: boolean;
}

export class ToolError extends Error {}

export async function probeToolchain(env: Record<string, string>): Promise<Toolchain> {
  const ver = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env, silent: true, ignoreReturnCode: true }).catch(
    (err: Error) => ({ exitCode: 127, stdout: '', stderr: err.message }),
  );
  if (ver.exitCode === 127 || /ENOENT|Unable to locate/.test(ver.stderr)) {
    throw new ToolError('docker: the docker CLI was not found on PATH; this action needs Docker Engine and buildx on the runner.');
  }
  if (ver.exitCode !== 0) {
    throw new ToolError(`docker: the Docker daemon is unreachable: ${lastMeaningfulLine(ver.stderr) || 'no answer'}`);
  }
  const bx = await run('docker', ['buildx', 'version'], { env, silent: true, ignoreReturnCode: true });
  if (bx.exitCode !== 0) {
    throw new ToolError(`buildx: the docker buildx plugin is not installed: ${lastMeaningfulLine(bx.stderr) || 'docker buildx version failed'}`);
  }
  const info = await run('docker', ['info', '--format', '{{json .DriverStatus}}'], { env, silent: true, ignoreReturnCode: true });
  return {
    dockerVersion: ver.stdout.trim(),
    buildxVersion: (bx.stdout.trim().split(/\s+/)[1] ?? bx.stdout.trim()),
    containerdStore: info.stdout.includes('io.containerd.snapshotter'),
  };
}

export interface Builder {
  name: string;
  driver: string;
  /** True when this action created it, so post removes it. */
  created: boolean;
}

/**
 * A builder that can export cache: the docker driver when the daemon uses the containerd image
 * store, otherwise a new docker-container builder (what GitHub-hosted runners need).
 */
export async function prepareBuilder(tc: Toolchain, env: Record<string, string>, runId: string): Promise<Builder> {
  if (tc.containerdStore) return { name: 'default', driver: 'docker', created: false };
  const name = `obc-${runId}-${randomBytes(3).toString('hex')}`;
  await run('docker', ['buildx', 'create', '--name', name, '--driver', 'docker-container', '--bootstrap'], { env });
  return { name, driver: 'docker-container', created: true };
}

export async function removeBuilder(b: { name: string; created: boolean } | undefined, env: Record<string, string>): Promise<void> {
  if (!b?.created) return;
  await run('docker', ['buildx', 'rm', '--force', b.name], { env, ignoreReturnCode: true });
}

/** A private DOCKER_CONFIG for this job, starting from the user's existing logins. */
export async function makeDockerConfig(runnerTemp: string, base: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = path.join(runnerTemp, `obc-docker-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const userDir = base.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  // Keep the user's CLI plugins (a buildx installed under ~/.docker/cli-plugins) and builders.
  for (const sub of ['cli-plugins', 'buildx']) {
    try {
      await fs.access(path.join(userDir, sub));
      await fs.symlink(path.join(userDir, sub), path.join(dir, sub));
    } catch {
      /* not there */
    }
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

export async function login(registry: string, username: string, password: string, env: Record<string, string>): Promise<void> {
  const res = await run('docker', ['login', '--username', username, '--password-stdin', ...(registry ? [registry] : [])], {
    env,
    input: password,
    silent: true,
    ignoreReturnCode: true,
  });
  if (res.exitCode !== 0) {
    throw new LoginError(`registry: login to ${registry || 'Docker Hub'} as ${username} failed: ${lastMeaningfulLine(res.stderr) || 'unknown error'}`);
  }
  core.info(`Logged in to ${registry || 'Docker Hub'} as ${username}.`);
}

export async function logoutAndForget(dockerConfig: string | undefined, registries: string[], env: Record<string, string>): Promise<void> {
  if (!dockerConfig) return;
  for (const r of registries) await run('docker', ['logout', ...(r ? [r] : [])], { env, silent: true, ignoreReturnCode: true });
  await fs.rm(dockerConfig, { recursive: true, force: true });
}
