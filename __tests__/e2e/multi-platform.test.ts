// Multi-platform images through the bundled dist/, with real emulation: QEMU handlers
// registered by the action (through a stand-in of tonistiigi/binfmt, built offline by
// scripts/toolchains/emulation.sh), one step for linux/amd64 and linux/arm64, and distribute mode
// (two platform jobs of one run, then the merge).
//
// binfmt_misc is one for the whole machine, and the toolchains' tests run side by side: every test
// here that builds for arm64 holds a shared lock on BINFMT_LOCK, and the one that removes the arm64
// handler (to see the action register it) holds it exclusively, on toolchain a only.
import { jest } from '@jest/globals';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, registryDigest, registryTags, REGISTRY, TOOLCHAIN, expectExit0 } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

const BINFMT_LOCK = '/var/lock/obc-binfmt.lock';
const HANDLER = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
const STANDIN = `${REGISTRY}/obc/binfmt:qemu`;
const BOTH = 'linux/amd64,linux/arm64';

/** Holds BINFMT_LOCK (shared or exclusive) until the returned function is called. */
async function lockBinfmt(mode: '-s' | '-x'): Promise<() => void> {
  const child = spawn('flock', [mode, BINFMT_LOCK, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`flock exited with ${code}`)));
  });
  return () => child.stdin.end();
}

async function manifest(repo: string, ref: string): Promise<any> {
  const res = await fetch(`http://${REGISTRY}/v2/${repo.slice(REGISTRY.length + 1)}/manifests/${ref}`, {
    headers: {
      Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json',
    },
  });
  if (!res.ok) throw new Error(`registry answered ${res.status} for ${repo}@${ref}`);
  return res.json();
}

/** Platform -> manifest digest of an index in the registry (attestations left out). */
async function indexPlatforms(repo: string, ref: string): Promise<Record<string, string>> {
  const idx = await manifest(repo, ref);
  const out: Record<string, string> = {};
  for (const m of idx.manifests ?? []) if (m.platform?.os !== 'unknown') out[`${m.platform.os}/${m.platform.architecture}`] = m.digest;
  return out;
}

/** What the image prints for a platform (its CMD is `cat /arch`), on this toolchain's daemon. */
function runImage(ref: string, platform: string): string {
  return execFileSync('docker', ['run', '--rm', '--pull', 'always', '--platform', platform, ref], { encoding: 'utf8' }).trim();
}

/** True when the build's RUN step of `platform` is CACHED in the log. */
function runCached(log: string, platform: string): boolean {
  const ids = [...log.matchAll(/^#(\d+) \[([^\]]*)\] RUN uname -m/gm)].filter((m) => m[2].startsWith(`${platform} `)).map((m) => m[1]);
  if (ids.length === 0) throw new Error(`no RUN step of ${platform} in the log`);
  return ids.some((id) => new RegExp(`^#${id} CACHED$`, 'm').test(log));
}

type Run = Awaited<ReturnType<typeof runAction>>;

/** The run succeeded (on failure, the end of its log is shown). */
function succeeded(r: Run): void {
  expectExit0(r);
}

let cache: CacheServer;
let release: (() => void) | undefined;
beforeAll(async () => {
  cache = await startCache();
  if (!existsSync(HANDLER) && !existsSync('/proc/sys/fs/binfmt_misc/register')) throw new Error('binfmt_misc is not mounted: run scripts/setup-env.sh');
});
afterAll(async () => {
  release?.();
  await cache.close();
});

describe('one step builds linux/amd64 and linux/arm64, QEMU set up by the action', () => {
  const repo = uniqueRepo('multi');
  let cold: Awaited<ReturnType<typeof runAction>>;
  let warm: Awaited<ReturnType<typeof runAction>>;
  const inputs = { images: repo, platforms: BOTH, 'qemu-image': STANDIN };

  beforeAll(async () => {
    const ws = await workspaceFrom('multiarch');
    pruneBuilder();
    if (TOOLCHAIN.name === 'a') {
      // Alone on the machine's binfmt_misc: no handler for arm64, so the action must register it.
      const exclusive = await lockBinfmt('-x');
      try {
        if (existsSync(HANDLER)) writeFileSync(HANDLER, '-1');
        cold = await runAction({ workspace: ws, cache, inputs });
      } finally {
        exclusive();
      }
      release = await lockBinfmt('-s');
    } else {
      release = await lockBinfmt('-s');
      cold = await runAction({ workspace: ws, cache, inputs });
    }
    pruneBuilder();
    warm = await runAction({ workspace: ws, cache, inputs });
  });

  test('the action registers the arm64 handler when it is missing, with the F flag, and skips when present', () => {
    succeeded(cold);
    if (TOOLCHAIN.name === 'a') {
      expect(cold.log).toContain(`running ${STANDIN} --install arm64`);
      expect(cold.log).toMatch(/QEMU: registered arm64 \(qemu-aarch64, flags [A-Z]*F/);
    } else {
      expect(cold.log).toMatch(/QEMU: (registered arm64|handlers already registered for arm64)/);
    }
    expect(warm.log).toMatch(/QEMU: handlers already registered for arm64 \(qemu-aarch64, flags [A-Z]*F[A-Z]*\); not running/);
    expect(warm.log).not.toContain('--install arm64');
  });

  test('the RUN step ran on both platforms, and the registry holds one index with both', async () => {
    expect(cold.log).toContain('ARCH-RAN-linux/amd64-x86_64');
    expect(cold.log).toContain('ARCH-RAN-linux/arm64-aarch64');
    expect(await registryTags(repo)).toEqual(['main']);
    const platforms = await indexPlatforms(repo, 'main');
    expect(Object.keys(platforms).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(warm.outputs.digest).toBe(await registryDigest(repo, 'main'));
    expect(warm.outputs['built-platforms']).toBe(BOTH);
    expect(JSON.parse(warm.outputs['platform-digests'])).toEqual(platforms);
  });

  test('each platform image runs and reports its architecture', () => {
    expect(runImage(`${repo}:main`, 'linux/amd64')).toBe('x86_64');
    expect(runImage(`${repo}:main`, 'linux/arm64')).toBe('aarch64');
  });

  test('after a prune, the second run is fully cached on both platforms', () => {
    succeeded(warm);
    expect(warm.outputs['cache-hit']).toBe('exact');
    expect(runCached(warm.log, 'linux/amd64')).toBe(true);
    expect(runCached(warm.log, 'linux/arm64')).toBe(true);
    // The output of the RUN step (BuildKit may show the command with the ARG expanded).
    expect(warm.log).not.toMatch(/ARCH-RAN-linux\/(amd64-x86_64|arm64-aarch64)/);
  });
});

// The docker driver cannot push by digest, so distribute: platform uses a docker-container builder,
// which needs a BuildKit image only toolchain c's daemon has here (hosted runners pull it).
const onContainerBuilder = TOOLCHAIN.driver === 'docker-container' ? describe : describe.skip;

describe('bad input: one line naming the input, before any Docker work', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['an unknown platform', { platforms: 'linux/amd64,linux/arm65' }, /^platforms: "linux\/arm65": unknown architecture "arm65"/],
    ['a merge with nothing to merge', { distribute: 'merge' }, /^distribute: merge: nothing to merge/],
    [
      'a distribute run with more than one platform',
      { distribute: 'platform', platforms: BOTH },
      /^distribute: platform: each job builds exactly one platform, but platforms gives 2 \("linux\/amd64,linux\/arm64"\)/,
    ],
    [
      'distribute: platform on the docker driver',
      { distribute: 'platform', platforms: 'linux/arm64', driver: 'docker' },
      /^driver: docker: distribute: platform pushes by digest/,
    ],
  ];
  test.each(cases)('%s', async (_name, extra) => {
    const [, , want] = cases.find((c) => c[0] === _name)!;
    const r = await runAction({ workspace: await workspaceFrom('multiarch'), inputs: { images: uniqueRepo('bad'), ...extra } });
    expect(r.main.exitCode).not.toBe(0);
    const errors = r.log
      .split('\n')
      .filter((l) => l.startsWith('Error: '))
      .map((l) => l.slice(7));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(want);
    expect(r.log).not.toContain('[group] Docker and buildx');
  });
});

onContainerBuilder('distribute: two platform jobs of one run, then the merge', () => {
  const repo = uniqueRepo('dist');
  const runId = String(5_000_000_000 + Math.floor(Math.random() * 1e9));
  const tags = 'type=ref,event=branch\ntype=raw,value=v1';
  const annotations = 'org.example.merged=yes';
  const job = (platform: string, attempt = '1') =>
    runAction({
      workspace: ws,
      cache,
      runId,
      runAttempt: attempt,
      inputs: { images: repo, tags, annotations, platforms: platform, distribute: 'platform', 'qemu-image': STANDIN },
    });
  const merge = (attempt: string, wait = '60') =>
    runAction({
      workspace: ws,
      cache,
      runId,
      runAttempt: attempt,
      inputs: { images: repo, tags, annotations, platforms: BOTH, distribute: 'merge', 'distribute-wait': wait },
    });
  let ws: string;
  let amd: Awaited<ReturnType<typeof runAction>>;
  let arm: Awaited<ReturnType<typeof runAction>>;
  let tagsAfterJobs: string[];
  let merged: Awaited<ReturnType<typeof runAction>>;
  let rerunArm: Awaited<ReturnType<typeof runAction>>;
  let rerunMerge: Awaited<ReturnType<typeof runAction>>;

  beforeAll(async () => {
    ws = await workspaceFrom('multiarch');
    release ??= await lockBinfmt('-s');
    amd = await job('linux/amd64');
    arm = await job('linux/arm64');
    tagsAfterJobs = await registryTags(repo);
    merged = await merge('1');
    // A re-run (attempt 2) of the arm64 job only: the merge of attempt 2 must not take attempt 1's amd64.
    rerunArm = await job('linux/arm64', '2');
    rerunMerge = await merge('2', '3');
  });

  test('each platform job pushes by digest only: no tag exists before the merge', () => {
    succeeded(amd);
    succeeded(arm);
    expect(tagsAfterJobs).toEqual([]);
    expect(amd.log).toContain('Pushed linux/amd64 by digest (no tag)');
    expect(arm.log).toContain('ARCH-RAN-linux/arm64-aarch64');
    for (const r of [amd, arm]) expect(Object.keys(JSON.parse(r.outputs['platform-digests']))).toHaveLength(1);
  });

  test('the merge pushes one index under every tag, holding both platform digests', async () => {
    succeeded(merged);
    expect(await registryTags(repo)).toEqual(['main', 'v1']);
    const digest = merged.outputs.digest;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await registryDigest(repo, 'main')).toBe(digest);
    expect(await registryDigest(repo, 'v1')).toBe(digest);
    const platforms = await indexPlatforms(repo, digest);
    expect(platforms).toEqual({ ...JSON.parse(amd.outputs['platform-digests']), ...JSON.parse(arm.outputs['platform-digests']) });
    expect(JSON.parse(merged.outputs['platform-digests'])).toEqual(platforms);
    expect(merged.outputs['built-platforms']).toBe(BOTH);
    const idx = await manifest(repo, digest);
    expect(idx.annotations?.['org.example.merged']).toBe('yes');
    expect(runImage(`${repo}:v1`, 'linux/arm64')).toBe('aarch64');
  });

  test('a merge of a re-run attempt does not mix in the earlier attempt: it fails naming the missing platform, and no tag moves', async () => {
    succeeded(rerunArm);
    expect(rerunMerge.main.exitCode).not.toBe(0);
    expect(rerunMerge.log).toMatch(/distribute: merge: no digest of linux\/amd64 from this run \(run \d+, attempt 2\)/);
    expect(rerunMerge.log).not.toMatch(/no digest of [^\n]*linux\/arm64/);
    expect(await registryDigest(repo, 'main')).toBe(merged.outputs.digest);
  });
});
