// Shared helpers for the end-to-end tests: the real Docker Engine, buildx and registry brought up by
// scripts/setup-env.sh, the local Actions cache service, and the runner emulation running dist/.
import * as net from 'node:net';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';
import { startCacheServer } from '../../scripts/lib/cache-server.mjs';
import { runJob, contextFor, loadAction } from '../../scripts/lib/runner.mjs';
import { actionNode } from '../../scripts/lib/action-node.mjs';
import type { JobResult, JobOptions } from '../../scripts/lib/runner.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The toolchain these tests run on, as scripts/test.sh chose it (its env file sets DOCKER_HOST,
 * DOCKER_CONFIG and PATH for this process, which the runner emulation passes on to the action):
 * a: Docker 26.1, BuildKit 0.13, containerd store; b: Docker 28.5, BuildKit 0.25, containerd store;
 * c: Docker 28.5 with the classic store, so a docker-container builder; d: a remote BuildKit.
 */
export const TOOLCHAIN = ((name: string) => ({
  name,
  driver: name === 'c' ? 'docker-container' : name === 'd' ? 'remote' : 'docker',
  desc: process.env.OBC_TOOLCHAIN_DESC ?? name,
}))(process.env.OBC_TOOLCHAIN ?? 'a');
export const REGISTRY = '127.0.0.1:5000';
export type CacheServer = Awaited<ReturnType<typeof startCacheServer>>;

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `obc-${prefix}-`));
}

export async function startCache(): Promise<CacheServer> {
  return startCacheServer({ dir: await tempDir('cache') });
}

/** Copies a fixture project into a fresh workspace. */
export async function workspaceFrom(fixture: string): Promise<string> {
  const ws = await tempDir('ws');
  await fs.cp(path.join(ROOT, '__tests__/fixtures/projects', fixture), ws, { recursive: true });
  return ws;
}

export function uniqueRepo(name: string): string {
  return `${REGISTRY}/e2e/${name}-${randomBytes(4).toString('hex')}`;
}

/** A fresh runner's builder: nothing cached locally. */
export function pruneBuilder(): void {
  execFileSync('docker', ['buildx', 'prune', '-af'], { stdio: 'ignore' });
}

export interface RunOptions {
  workspace: string;
  cache?: CacheServer;
  inputs: Record<string, string>;
  event?: string;
  ref?: string;
  sha?: string;
  payload?: Record<string, any>;
  runnerTemp?: string;
  /** RUNNER_TOOL_CACHE (default: a fresh one per run). */
  toolCache?: string;
  env?: Record<string, string>;
  secrets?: string[];
  debug?: boolean;
  /** Cancels main (or another entry) by a signal when a log line shows up (see runner.mjs). */
  interrupt?: JobOptions['interrupt'];
  afterEntry?: JobOptions['afterEntry'];
  /** Per entry point (main, post): a process still running then is killed and its step fails. */
  timeoutMs?: number;
  /** GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT (default: a random run, attempt 1). */
  runId?: string;
  runAttempt?: string;
}

export const DEFAULT_PAYLOAD = {
  repository: {
    name: 'app',
    full_name: 'acme/app',
    html_url: 'https://github.com/acme/app',
    default_branch: 'main',
    description: 'An app',
    license: { spdx_id: 'MIT' },
  },
};

let node: ReturnType<typeof actionNode> | undefined;
/**
 * The Node that runs dist/: the one action.yml's runs.using names (node24), installed by npm ci
 * (scripts/lib/action-node.mjs), not the Node that runs jest. OBC_ACTION_NODE overrides it.
 */
export function actionNodeFor(): { bin: string; version: string; overridden: boolean } {
  return (node ??= actionNode(loadAction(ROOT).runs.using));
}

/** Runs the bundled action (main, then post) the way the runner does, with the Node runs.using names. */
export async function runAction(o: RunOptions): Promise<JobResult> {
  const cacheEnv: Record<string, string> = o.cache ? { ...o.cache.env() } : {};
  const context = contextFor({
    eventName: o.event ?? 'push',
    ref: o.ref ?? 'refs/heads/main',
    sha: o.sha ?? 'a'.repeat(40),
    repository: 'acme/app',
    payload: o.payload ?? DEFAULT_PAYLOAD,
    workspace: o.workspace,
    runnerTemp: o.runnerTemp ?? (await tempDir('rt')),
    toolCache: o.toolCache,
    resultsUrl: cacheEnv.ACTIONS_RESULTS_URL,
    runtimeToken: cacheEnv.ACTIONS_RUNTIME_TOKEN,
    ...(o.runId ? { runId: o.runId } : {}),
    ...(o.runAttempt ? { runAttempt: o.runAttempt } : {}),
  });
  return runJob({
    actionDir: ROOT,
    node: actionNodeFor().bin,
    inputs: o.inputs,
    context,
    env: { ...cacheEnv, ...(o.env ?? {}) },
    secrets: o.secrets,
    debug: o.debug,
    timeoutMs: o.timeoutMs ?? 8 * 60 * 1000,
    interrupt: o.interrupt,
    afterEntry: o.afterEntry,
  });
}

/** The step (main by default) exited 0; on failure the assertion shows the end of the run's log. */
export function expectExit0(r: JobResult, step: 'main' | 'post' = 'main'): void {
  const exitCode = step === 'main' ? r.main.exitCode : r.post?.exitCode;
  expect({ step, exitCode, log: exitCode === 0 ? '' : r.log.slice(-4000) }).toEqual({ step, exitCode: 0, log: '' });
}

/** Whether the build step containing `needle` was CACHED is `want`; on a mismatch the build log shows. */
export function expectStepCached(fullLog: string, needle: string, want: boolean): void {
  const got = stepCached(fullLog, needle);
  expect({ needle, cached: got, log: got === want ? '' : buildGroup(fullLog).slice(-6000) }).toEqual({ needle, cached: want, log: '' });
}

/**
 * The "Build" group of a run's log. A staged push on a container builder runs buildx a second
 * time, fully cached, in the "Push" group; only the build itself says what was rebuilt.
 */
export function buildGroup(log: string): string {
  const start = Math.max(log.lastIndexOf('[group] Build\n'), 0);
  const end = log.indexOf('[endgroup]', start);
  return log.slice(start, end < 0 ? undefined : end);
}

/** True when the build (see buildGroup) says the step whose command contains `needle` was CACHED. */
export function stepCached(fullLog: string, needle: string): boolean {
  const log = buildGroup(fullLog);
  const ids = new Set<string>();
  for (const m of log.matchAll(/^#(\d+) \[[^\]]*\] (.*)$/gm)) if (m[2].includes(needle)) ids.add(m[1]);
  if (ids.size === 0) throw new Error(`no build step containing "${needle}" in the log`);
  return [...ids].some((id) => new RegExp(`^#${id} CACHED$`, 'm').test(log));
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function splitRepo(ref: string): { name: string } {
  return { name: ref.slice(REGISTRY.length + 1) };
}

/** The registry's digest for repo:tag, or undefined when the tag does not exist. */
export async function registryDigest(repo: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${REGISTRY}/v2/${splitRepo(repo).name}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: ACCEPT } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`registry answered ${res.status} for ${repo}:${tag}`);
  return res.headers.get('docker-content-digest') ?? undefined;
}

export async function registryTags(repo: string): Promise<string[]> {
  const res = await fetch(`http://${REGISTRY}/v2/${splitRepo(repo).name}/tags/list`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags?: string[] | null };
  return (body.tags ?? []).sort();
}

/** Every blob (manifests, configs, layers) reachable from repo:tag, decompressed when compressed. */
export async function registryBlobs(repo: string, tag: string): Promise<Buffer[]> {
  const name = splitRepo(repo).name;
  const out: Buffer[] = [];
  const visitManifest = async (ref: string) => {
    const res = await fetch(`http://${REGISTRY}/v2/${name}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
    if (!res.ok) throw new Error(`registry answered ${res.status} for manifest ${ref}`);
    const raw = Buffer.from(await res.arrayBuffer());
    out.push(raw);
    const m = JSON.parse(raw.toString('utf8'));
    for (const child of m.manifests ?? []) await visitManifest(child.digest);
    for (const d of [m.config, ...(m.layers ?? [])].filter(Boolean)) {
      const b = await fetch(`http://${REGISTRY}/v2/${name}/blobs/${d.digest}`);
      out.push(...expand(Buffer.from(await b.arrayBuffer())));
    }
  };
  await visitManifest(tag);
  return out;
}

/** A buffer and, when it is gzip or zstd data, its decompressed content too. */
export function expand(buf: Buffer): Buffer[] {
  if (buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b) return [buf, gunzipSync(buf)];
  if (buf.length > 4 && buf.readUInt32LE(0) === 0xfd2fb528) {
    const r = spawnSync('zstd', ['-dc'], { input: buf, maxBuffer: 1 << 30 });
    return [buf, r.stdout];
  }
  return [buf];
}

/** Every file inside every archive the cache service stores, decompressed (and gunzipped inside). */
export async function cacheArchiveContents(cache: CacheServer): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  await walk(cache.dir);
  for (const f of files) {
    const buf = readFileSync(f);
    if (!(buf.length > 4 && buf.readUInt32LE(0) === 0xfd2fb528)) {
      out.push(buf);
      continue;
    }
    const x = await tempDir('x');
    execFileSync('tar', ['-I', 'zstd -d --long=30', '-xf', f, '-C', x], { stdio: 'ignore' });
    const inner: string[] = [];
    const walk2 = async (d: string) => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk2(p);
        else if (e.isFile()) inner.push(p);
      }
    };
    await walk2(x);
    for (const p of inner) out.push(...expand(readFileSync(p)));
    await fs.rm(x, { recursive: true, force: true });
  }
  return out;
}

export function containsBytes(haystacks: Buffer[], needle: string | Buffer): boolean {
  const n = Buffer.from(needle);
  return haystacks.some((h) => h.includes(n));
}

/** A TCP port on 127.0.0.1 that nothing listens on (for a registry a test starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
