// An htpasswd-protected registry on a loopback port, for the login and registry-auth tests.
import { promises as fs, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { tempDir, freePort } from '../harness.js';

export interface AuthRegistry {
  host: string;
  user: string;
  password: string;
  proc: ChildProcess;
  dir: string;
}

/** Readiness, not timing: polls until the URL answers at all (bounded). */
export async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not come up`);
}

export async function startAuthRegistry(user: string, password = `obc-pw-${randomBytes(8).toString('hex')}`): Promise<AuthRegistry> {
  const port = await freePort();
  const dir = await tempDir('authreg');
  await fs.writeFile(path.join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', user, password]));
  const config = ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${dir}/data`, 'http:', `  addr: 127.0.0.1:${port}`];
  config.push('auth:', '  htpasswd:', '    realm: obc-e2e', `    path: ${dir}/htpasswd`, '');
  await fs.writeFile(path.join(dir, 'config.yml'), config.join('\n'));
  const log = openSync(path.join(dir, 'registry.log'), 'a');
  const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  await waitForHttp(`http://127.0.0.1:${port}/v2/`);
  return { host: `127.0.0.1:${port}`, user, password, proc, dir };
}

export async function stopAuthRegistries(regs: (AuthRegistry | undefined)[]): Promise<void> {
  for (const r of regs) {
    if (!r) continue;
    const exited = new Promise((res) => r.proc.once('exit', res));
    r.proc.kill();
    await exited;
    await fs.rm(r.dir, { recursive: true, force: true });
  }
}

/** The tags of a repository, read with the registry's credential. */
export async function tagsOn(reg: AuthRegistry, repo: string): Promise<string[]> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/tags/list`, {
    headers: { Authorization: `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}` },
  });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`registry ${reg.host} answered ${res.status}`);
  return ((await res.json()) as { tags?: string[] }).tags ?? [];
}
