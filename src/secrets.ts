// Build secrets: masked before anything is logged, written to 0600 files in a private 0700
// directory (removed in post), handed to buildx by id and path or env var name only.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { InputError } from './inputs.js';
import type { Secret } from './inputs.js';

/** Masks a value and each of its lines, so no line of it can appear in the log. */
export function maskValue(value: string): void {
  if (value === '') return;
  core.setSecret(value);
  for (const line of value.split(/\r?\n/)) if (line.trim() !== '') core.setSecret(line);
}

export function maskSecrets(secrets: Secret[], env: NodeJS.ProcessEnv = process.env): void {
  for (const s of secrets) {
    if (s.source.kind === 'value') maskValue(s.source.value);
    if (s.source.kind === 'env' && env[s.source.name] !== undefined) maskValue(env[s.source.name]!);
  }
}

/** Checks what must exist before a build: files and environment variables. */
export async function checkSecretSources(secrets: Secret[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const s of secrets) {
    if (s.source.kind === 'file') {
      try {
        await fs.access(s.source.path);
      } catch {
        throw new InputError('secret-files', `secret "${s.id}": file ${s.source.path} does not exist`);
      }
    }
    if (s.source.kind === 'env' && env[s.source.name] === undefined) {
      throw new InputError('secret-envs', `secret "${s.id}": environment variable ${s.source.name} is not set`);
    }
  }
}

export async function makeSecretDir(runnerTemp: string): Promise<string> {
  const dir = path.join(runnerTemp, `obc-secrets-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(dir, { mode: 0o700, recursive: true });
  await fs.chmod(dir, 0o700);
  return dir;
}

/** Writes inline secrets to files and returns the `--secret` specs for every secret. */
export async function materializeSecrets(secrets: Secret[], dir: string): Promise<string[]> {
  const specs: string[] = [];
  let n = 0;
  for (const s of secrets) {
    if (s.source.kind === 'value') {
      const file = path.join(dir, `s${n++}`);
      await fs.writeFile(file, s.source.value, { mode: 0o600 });
      specs.push(`id=${s.id},src=${file}`);
    } else if (s.source.kind === 'file') {
      specs.push(`id=${s.id},src=${path.resolve(s.source.path)}`);
    } else {
      specs.push(`id=${s.id},env=${s.source.name}`);
    }
  }
  return specs;
}

export async function removeSecretDir(dir: string | undefined): Promise<void> {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
