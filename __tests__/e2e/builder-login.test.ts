// Buildx installation from a mirror into the tool cache, the builder's driver, and registry
// logins against htpasswd-protected registries, through the bundled dist/ and the real Docker.
import { jest } from '@jest/globals';
import { promises as fs, readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { runAction, tempDir, sha256, expectExit0 } from './harness.js';
import { startAuthRegistry, stopAuthRegistries, tagsOn } from './helpers/auth-registry.js';
import type { AuthRegistry } from './helpers/auth-registry.js';
import type { JobResult } from '../../scripts/lib/runner.mjs';
import { releasePlatform } from '../../src/docker/buildx-install.js';

jest.setTimeout(10 * 60 * 1000);

const SYSTEM_BUILDX = '/usr/libexec/docker/cli-plugins/docker-buildx';
const PLAT = releasePlatform(process.platform, process.arch);
const GOOD = 'v0.13.1';
const TAMPERED = 'v0.13.9';
const ARCH = os.arch();

async function project(dockerfile: string): Promise<string> {
  const ws = await tempDir('ws');
  await fs.writeFile(path.join(ws, 'Dockerfile'), dockerfile);
  return ws;
}

function errorsOf(r: JobResult): string[] {
  return r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
}

function stateOf(r: JobResult): { dockerConfig?: string; builder?: { name: string }; loggedIn: string[] } {
  return JSON.parse(r.main.state.obc ?? '{}');
}

/** Every regular file under dir (symlinks are not followed). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Polls until the URL answers at all (bounded); readiness, not timing. */
// ------------------------------------------------------------------------------------------------
// A local release mirror: the real buildx binary under a release-style name, with checksums files.

interface Mirror {
  template: string;
  hits: string[];
  close(): Promise<void>;
}

async function startMirror(): Promise<Mirror> {
  const bin = readFileSync(SYSTEM_BUILDX);
  const tampered = Buffer.from(bin);
  tampered[tampered.length >> 1] ^= 0xff;
  const asset = (v: string) => `buildx-${v}.${PLAT}`;
  const sums = (v: string) => `${'0'.repeat(64)} *buildx-${v}.windows-amd64.exe\n${sha256(bin)} *${asset(v)}\n`;
  const files = new Map<string, Buffer>([
    [`/${GOOD}/${asset(GOOD)}`, bin],
    [`/${GOOD}/checksums.txt`, Buffer.from(sums(GOOD))],
    [`/latest/checksums.txt`, Buffer.from(sums(GOOD))],
    // The tampered release lists the genuine binary's checksum, as a compromised mirror would serve.
    [`/${TAMPERED}/${asset(TAMPERED)}`, tampered],
    [`/${TAMPERED}/checksums.txt`, Buffer.from(sums(TAMPERED))],
  ]);
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(p);
    const body = files.get(p);
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    template: `http://127.0.0.1:${port}/{version}/{asset}`,
    hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('buildx from a mirror into the tool cache', () => {
  let mirror: Mirror;
  let toolCache: string;
  const binaryHits = () => mirror.hits.filter((h) => h.endsWith(`.${PLAT}`));
  const ws = project('FROM busybox\nRUN echo buildx-install-test\n');
  const inputs = (version: string) => ({ 'buildx-version': version, 'buildx-download-url': mirror.template, push: 'false', cache: 'false' });
  let first: JobResult;
  let second: JobResult;

  beforeAll(async () => {
    mirror = await startMirror();
    toolCache = await tempDir('toolcache');
    first = await runAction({ workspace: await ws, toolCache, inputs: inputs(GOOD) });
  });
  afterAll(async () => {
    await mirror.close();
    await fs.rm(toolCache, { recursive: true, force: true });
  });

  test('a pinned version is downloaded, verified, cached and used as the docker buildx plugin', async () => {
    expect(errorsOf(first)).toEqual([]);
    expectExit0(first);
    expect(first.log).toMatch(/sha256 [0-9a-f]{64} matches checksums\.txt\./);
    expect(first.log).toContain(`buildx ${GOOD} downloaded and verified`);
    expect(first.outputs['buildx-version']).toBe('0.13.1+ds1');
    const cached = path.join(toolCache, 'buildx', '0.13.1', ARCH);
    expect(existsSync(`${cached}.complete`)).toBe(true);
    expect(sha256(readFileSync(path.join(cached, 'docker-buildx')))).toBe(sha256(readFileSync(SYSTEM_BUILDX)));
    // Docker itself reports the job's private plugin link, which shadows the system buildx.
    const privateConfig = stateOf(first).dockerConfig!;
    expect(privateConfig.startsWith(first.context.runnerTemp)).toBe(true);
    expect(first.log).toContain(`buildx 0.13.1+ds1 (${path.join(privateConfig, 'cli-plugins', 'docker-buildx')})`);
    expect(binaryHits()).toEqual([`/${GOOD}/buildx-${GOOD}.${PLAT}`]);
    expect(mirror.hits).toContain(`/${GOOD}/checksums.txt`);
    // Post deleted the private config (and with it the plugin link); the staging dir is gone too.
    expect(existsSync(privateConfig)).toBe(false);
    expect((await fs.readdir(first.context.runnerTemp)).filter((d) => d.startsWith('obc-buildx-') || d.startsWith('obc-docker-'))).toEqual([]);
  });

  test('a second run uses the tool cache: no second download from the mirror', async () => {
    mirror.hits.length = 0;
    second = await runAction({ workspace: await ws, toolCache, inputs: inputs(GOOD) });
    expect(errorsOf(second)).toEqual([]);
    expectExit0(second);
    expect(second.log).toContain(`buildx ${GOOD} from the tool cache`);
    expect(mirror.hits).toEqual([]);
  });

  test('latest resolves through the mirror\'s "latest" checksums file, then the tool cache', async () => {
    mirror.hits.length = 0;
    const r = await runAction({ workspace: await ws, toolCache, inputs: inputs('latest') });
    expect(errorsOf(r)).toEqual([]);
    expect(r.log).toContain(`The latest buildx release is ${GOOD}.`);
    expect(r.log).toContain(`buildx ${GOOD} from the tool cache`);
    expect(mirror.hits).toEqual(['/latest/checksums.txt']);
  });

  test('a tampered binary is refused with one clear line and never reaches the tool cache', async () => {
    mirror.hits.length = 0;
    const r = await runAction({ workspace: await ws, toolCache, inputs: inputs(TAMPERED) });
    expect(r.main.exitCode).toBe(1);
    const errors = errorsOf(r);
    expect(errors).toHaveLength(1);
    const asset = `buildx-${TAMPERED}.${PLAT}`;
    expect(errors[0]).toMatch(
      new RegExp(
        `^buildx-version: checksum mismatch for ${asset.replace(/\./g, '\\.')} from http://127\\.0\\.0\\.1:\\d+/${TAMPERED}/${asset}: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; refusing to install it$`,
      ),
    );
    expect(mirror.hits).toContain(`/${TAMPERED}/${asset}`);
    expect(existsSync(path.join(toolCache, 'buildx', '0.13.9'))).toBe(false);
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect((await fs.readdir(r.context.runnerTemp)).filter((d) => d.startsWith('obc-buildx-'))).toEqual([]);
  });

  test('a release the mirror does not have fails naming the input', async () => {
    const r = await runAction({ workspace: await ws, toolCache, inputs: inputs('v0.99.0') });
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([
      expect.stringMatching(/^buildx-version: release v0\.99\.0 not found: http:\/\/127\.0\.0\.1:\d+\/v0\.99\.0\/checksums\.txt answered HTTP 404$/),
    ]);
  });
});

describe('builder', () => {
  test('the auto driver picks docker on this containerd-store daemon, with the installed buildx', async () => {
    // The toolchain's own buildx (0.13 on toolchain a, 0.29 on b), as the Docker CLI finds it.
    const installed = execFileSync('docker', ['buildx', 'version'], { encoding: 'utf8' }).trim().split(/\s+/)[1];
    const r = await runAction({ workspace: await project('FROM busybox\nRUN echo auto-driver\n'), inputs: { push: 'false', cache: 'false' } });
    expect(errorsOf(r)).toEqual([]);
    expect(r.outputs.driver).toBe('docker');
    expect(r.outputs.builder).toBe('default');
    expect(r.outputs.platforms.split(',')).toContain('linux/amd64');
    expect(r.outputs['buildx-version']).toBe(installed);
    expect(r.log).toContain('driver docker (auto: the daemon uses the containerd image store, so its built-in BuildKit can export cache), BuildKit ');
    expect(r.log).toMatch(new RegExp(`buildx ${installed.replace(/[.+]/g, '\\$&')} \\(/[^)]*cli-plugins/docker-buildx\\)`));
    expect(r.main.groups).toEqual(expect.arrayContaining(['Docker and buildx', 'Builder']));
  });

  test('a docker-container builder whose BuildKit image cannot be pulled fails in one line, and post removes it', async () => {
    const image = `127.0.0.1:5000/e2e/no-such-buildkit-${randomBytes(3).toString('hex')}:v0`;
    const r = await runAction({
      workspace: await project('FROM busybox\n'),
      inputs: { push: 'false', cache: 'false', driver: 'docker-container', 'driver-opts': `image=${image}` },
    });
    expect(r.main.exitCode).toBe(1);
    const errors = errorsOf(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^driver: the docker-container builder could not start its BuildKit image ${image.replace(/[.]/g, '\\.')}: .*not found.*driver-opts: image=<ref>`,
      ),
    );
    const name = stateOf(r).builder?.name;
    expect(name).toMatch(/^obc-\d+-[0-9a-f]{6}$/);
    expectExit0(r, 'post');
    const ls = execFileSync('docker', ['buildx', 'ls'], { encoding: 'utf8' });
    expect(ls).not.toContain(name!);
  });
});

// ------------------------------------------------------------------------------------------------
// Registries with htpasswd authentication, on other loopback ports.

describe('registry login', () => {
  let r1: AuthRegistry;
  let r2: AuthRegistry;
  /** A user Docker config whose credential store does not exist: a login that used it would fail. */
  let userConfig: string;
  const userConfigJson = JSON.stringify({ credsStore: 'obc-no-such-helper', auths: {} });

  beforeAll(async () => {
    [r1, r2] = await Promise.all([startAuthRegistry('ci'), startAuthRegistry('bob')]);
    userConfig = await tempDir('userdocker');
    await fs.writeFile(path.join(userConfig, 'config.json'), userConfigJson);
  });
  afterAll(async () => {
    await stopAuthRegistries([r1, r2]);
  });

  function needles(...regs: AuthRegistry[]): string[] {
    return regs.flatMap((r) => [r.password, Buffer.from(`${r.user}:${r.password}`).toString('base64')]);
  }

  /** No password, nor the base64 auth docker writes, in any file under the job's RUNNER_TEMP or the user's Docker config. */
  async function credentialsOnDisk(r: JobResult, regs: AuthRegistry[]): Promise<string[]> {
    const found: string[] = [];
    for (const f of [...(await filesUnder(r.context.runnerTemp)), ...(await filesUnder(userConfig))]) {
      const content = readFileSync(f);
      for (const n of needles(...regs)) if (content.includes(n)) found.push(f);
    }
    return found;
  }

  function auth(...regs: AuthRegistry[]): string {
    return regs.map((r) => `- registry: ${r.host}\n  username: ${r.user}\n  password: ${r.password}`).join('\n');
  }

  test('correct credentials (single inputs and registry-auth) push to both registries; nothing is left on disk', async () => {
    const repo = `e2e/login-${randomBytes(3).toString('hex')}`;
    const r = await runAction({
      workspace: await project('FROM busybox\nRUN echo login-test > /login.txt\n'),
      inputs: {
        images: `${r1.host}/${repo}\n${r2.host}/${repo}`,
        registry: r1.host,
        username: r1.user,
        password: r1.password,
        'registry-auth': auth(r2),
        cache: 'false',
      },
      env: { DOCKER_CONFIG: userConfig },
    });
    expect(errorsOf(r)).toEqual([]);
    expectExit0(r);
    expect(r.log).toContain(`Logged in to ${r1.host} as ci (registry).`);
    expect(r.log).toContain(`Logged in to ${r2.host} as bob (registry-auth).`);
    expect(await tagsOn(r1, repo)).toEqual(['main']);
    expect(await tagsOn(r2, repo)).toEqual(['main']);
    expectExit0(r, 'post');
    expect(stateOf(r).loggedIn).toEqual([r1.host, r2.host]);
    expect(existsSync(stateOf(r).dockerConfig!)).toBe(false);
    expect(await credentialsOnDisk(r, [r1, r2])).toEqual([]);
    // The scan finds a credential that is on disk.
    const planted = path.join(r.context.runnerTemp, 'planted.json');
    await fs.writeFile(planted, JSON.stringify({ auths: { [r2.host]: { auth: needles(r2)[1] } } }));
    expect(await credentialsOnDisk(r, [r1, r2])).toEqual([planted]);
    await fs.rm(planted);
    // The user's own config is as it was (the credential store was bypassed, not edited).
    expect(readFileSync(path.join(userConfig, 'config.json'), 'utf8')).toBe(userConfigJson);
    for (const n of needles(r1, r2)) {
      expect(r.log).not.toContain(n);
      expect(JSON.stringify(r.main.state)).not.toContain(n);
      expect(JSON.stringify(r.outputs)).not.toContain(n);
    }
    expect(r.main.masks).toBeGreaterThanOrEqual(2);
  });

  test('wrong credentials fail with one line naming the registry; nothing is left on disk', async () => {
    const wrong = { ...r2, password: `obc-wrong-${randomBytes(6).toString('hex')}` };
    const r = await runAction({
      workspace: await project('FROM busybox\n'),
      inputs: { images: `${r2.host}/e2e/never`, 'registry-auth': auth(wrong), cache: 'false' },
      env: { DOCKER_CONFIG: userConfig },
    });
    expect(r.main.exitCode).toBe(1);
    const errors = errorsOf(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^registry-auth: login to ${r2.host.replace(/\./g, '\\.')} as bob failed: .*401 Unauthorized$`));
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect(r.log).not.toContain(wrong.password);
    expectExit0(r, 'post');
    expect(existsSync(stateOf(r).dockerConfig!)).toBe(false);
    expect(await credentialsOnDisk(r, [wrong, r2])).toEqual([]);
  });

  test('after a failed build, post still logs out and deletes the credentials', async () => {
    const broken = await fs.readFile(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/projects/broken/Dockerfile'), 'utf8');
    const r = await runAction({
      workspace: await project(broken),
      inputs: { images: `${r1.host}/e2e/broken`, 'registry-auth': auth(r1), cache: 'false' },
      env: { DOCKER_CONFIG: userConfig },
    });
    expect(r.main.exitCode).toBe(1);
    expect(r.log).toContain(`Logged in to ${r1.host} as ci (registry-auth).`);
    expect(errorsOf(r).join('\n')).not.toContain('login');
    // While main ran, the credentials were in the private config: post removed it all.
    expect(stateOf(r).dockerConfig!.startsWith(r.context.runnerTemp)).toBe(true);
    expectExit0(r, 'post');
    expect(existsSync(stateOf(r).dockerConfig!)).toBe(false);
    expect(await credentialsOnDisk(r, [r1])).toEqual([]);
  });
});
