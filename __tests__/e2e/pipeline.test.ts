// The whole pipeline through the bundled dist/, against the real Docker Engine, buildx,
// registry and the local Actions cache service.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  runAction,
  startCache,
  workspaceFrom,
  uniqueRepo,
  pruneBuilder,
  stepCached,
  registryDigest,
  registryTags,
  registryBlobs,
  cacheArchiveContents,
  containsBytes,
  sha256,
  tempDir,
  expectExit0,
} from './harness.js';
import type { CacheServer } from './harness.js';

// A secret with quotes, "=", several lines and a trailing newline: it must arrive byte for byte.
const SECRET = 'first line "quoted" = with equals\nsecond \'line\'  \n';
const SECRET_INPUT = ['token<<EOS', 'first line "quoted" = with equals', "second 'line'  ", '', 'EOS'].join('\n');
const SECRET_LINES = SECRET.split('\n').filter((l) => l.trim() !== '');

jest.setTimeout(10 * 60 * 1000);

let cache: CacheServer;
beforeAll(async () => {
  cache = await startCache();
});
afterAll(async () => {
  await cache.close();
});

function inputs(repo: string, extra: Record<string, string> = {}): Record<string, string> {
  return { images: repo, secrets: SECRET_INPUT, 'build-args': `EXPECTED_DIGEST=${sha256(SECRET)}`, ...extra };
}

describe('push to a branch, then a rebuild on a fresh runner', () => {
  const repo = uniqueRepo('pipeline');
  let ws: string;
  let cold: Awaited<ReturnType<typeof runAction>>;
  let warm: Awaited<ReturnType<typeof runAction>>;
  let coldRegistryDigest: string | undefined;

  beforeAll(async () => {
    ws = await workspaceFrom('app');
    pruneBuilder();
    cold = await runAction({ workspace: ws, cache, inputs: inputs(repo), ref: 'refs/heads/feature/x', secrets: [SECRET] });
    coldRegistryDigest = await registryDigest(repo, 'feature-x');
    pruneBuilder();
    warm = await runAction({ workspace: ws, cache, inputs: inputs(repo), ref: 'refs/heads/feature/x', secrets: [SECRET] });
  });

  test('cold run succeeds and pushes the branch tag, with the registry digest as output', async () => {
    expectExit0(cold);
    expectExit0(cold, 'post');
    expect(cold.outputs.tags).toBe(`${repo}:feature-x`);
    expect(await registryTags(repo)).toEqual(['feature-x']);
    expect(cold.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(cold.outputs.digest).toBe(coldRegistryDigest);
    // The warm run pushed the same tag again (a new creation time): its output names that push.
    expect(warm.outputs.digest).toBe(await registryDigest(repo, 'feature-x'));
    expect(cold.outputs.imageid).toMatch(/^sha256:/);
    expect(cold.outputs['cache-hit']).toBe('miss');
    expect(cold.outputs.builder).toBe('default');
    expect(cold.log).toContain('secret-hash-ok');
    expect(cold.log).toContain('EXPENSIVE-STEP-RAN');
  });

  test('platform-digests names what the registry serves under the tag', () => {
    const raw = execFileSync('docker', ['buildx', 'imagetools', 'inspect', '--raw', `${repo}:feature-x`], { encoding: 'utf8' });
    const served: Record<string, string> = {};
    for (const m of JSON.parse(raw).manifests ?? [])
      if (m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest') served[`${m.platform.os}/${m.platform.architecture}`] = m.digest;
    expect(Object.keys(served)).toEqual(['linux/amd64']);
    expect(JSON.parse(warm.outputs['platform-digests'])).toEqual(served);
  });

  test('cold run saved the layer cache to the service', () => {
    expect(cold.log).toMatch(/Layer cache: saved obc1-idx-/);
    expect(cold.outputs['cache-key']).toMatch(/^obc1-idx-.*-feature-x-a{40}$/);
  });

  test('warm run on a pruned builder restores the cache: the expensive stage is CACHED', () => {
    expectExit0(warm);
    expect(warm.outputs['cache-hit']).toBe('exact');
    expect(stepCached(warm.log, 'RUN dd if=/dev/urandom')).toBe(true);
    expect(warm.log).not.toContain('EXPENSIVE-STEP-RAN');
  });

  test('a fully cached rebuild saves nothing new', () => {
    expect(warm.log).toMatch(/Layer cache not saved: nothing changed/);
  });

  test('the secret appears nowhere: logs, outputs, registry blobs, cache archives', async () => {
    for (const r of [cold, warm]) {
      for (const line of SECRET_LINES) {
        expect(r.log).not.toContain(line);
        expect(JSON.stringify(r.outputs)).not.toContain(line);
        expect(JSON.stringify(r.main.state)).not.toContain(line);
      }
    }
    const blobs = await registryBlobs(repo, 'feature-x');
    expect(blobs.length).toBeGreaterThan(3);
    const archives = await cacheArchiveContents(cache);
    expect(archives.length).toBeGreaterThan(3);
    for (const line of SECRET_LINES) {
      expect(containsBytes(blobs, line)).toBe(false);
      expect(containsBytes(archives, line)).toBe(false);
    }
    // The search itself works: the final stage's file content is found in both, through gzip and zstd.
    expect(containsBytes(blobs, 'version 1')).toBe(true);
    expect(containsBytes(archives, 'version 1')).toBe(true);
  });

  test('post removed the secret files', async () => {
    const dirs = (await fs.readdir(cold.context.runnerTemp)).filter((d) => d.startsWith('obc-secrets-'));
    expect(dirs).toEqual([]);
  });
});

describe('git tag and pull request', () => {
  test('tag v1.2.3 pushes v1.2.3 and latest', async () => {
    const repo = uniqueRepo('tag');
    const ws = await workspaceFrom('app');
    const r = await runAction({ workspace: ws, cache, inputs: inputs(repo), ref: 'refs/tags/v1.2.3', secrets: [SECRET] });
    expectExit0(r);
    expect(r.outputs.tags.split('\n')).toEqual([`${repo}:v1.2.3`, `${repo}:latest`]);
    expect(await registryTags(repo)).toEqual(['latest', 'v1.2.3']);
    expect(await registryDigest(repo, 'latest')).toBe(r.outputs.digest);
  });

  test('a pull request builds, pushes nothing and saves no cache', async () => {
    const repo = uniqueRepo('pr');
    const ws = await workspaceFrom('app');
    cache.resetLog();
    const payload = {
      ...(await import('./harness.js')).DEFAULT_PAYLOAD,
      number: 15,
      pull_request: { number: 15, head: { ref: 'fix/y', sha: 'b'.repeat(40) }, base: { ref: 'main' } },
    };
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: inputs(repo),
      event: 'pull_request',
      ref: 'refs/pull/15/merge',
      payload,
      secrets: [SECRET],
      env: {},
    });
    expectExit0(r);
    expect(r.outputs.tags).toBe(`${repo}:pr-15`);
    expect(r.outputs.digest).toBe('');
    expect(await registryTags(repo)).toEqual([]);
    expect(r.log).toMatch(/Not pushing \(push: auto does not push on pull_request events\)/);
    expect(cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload')).toEqual([]);
    expect(cache.log().some((l) => l.kind === 'lookup')).toBe(true);
  });
});

describe('no usable Docker fails with one clear line', () => {
  test.each([
    ['the daemon is unreachable', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, /^docker: the Docker daemon is unreachable: .*nonexistent\/docker\.sock/],
    ['there is no docker CLI on PATH', { PATH: '/nonexistent-bin' }, /^docker: the docker CLI was not found on PATH/],
  ] as [string, Record<string, string>, RegExp][])('%s', async (_name, env, re) => {
    const ws = await tempDir('ws');
    await fs.writeFile(path.join(ws, 'Dockerfile'), 'FROM busybox\n');
    const r = await runAction({ workspace: ws, inputs: { images: 'x/y', push: 'false' }, env });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors).toEqual([expect.stringMatching(re)]);
    expect(r.main.groups.filter((g) => /^(Builder|Restore layer cache|Build)\b/.test(g))).toEqual([]);
  });
});

describe('bad input fails with one clear line naming the input', () => {
  const BIG = 'a'.repeat(100_000);
  const STAGES = 'FROM busybox AS base\nFROM base AS final\n';
  // [name, inputs, the error line]; the workspace's Dockerfile is FROM busybox unless DOCKERFILES has one.
  const rows: [string, Record<string, string>, RegExp][] = [
    ['a secret line without "="', { images: 'x/y', secrets: 'just-a-value-no-equals' }, /^secrets: expected id=value on line 1/],
    ['an unknown push value', { images: 'x/y', push: 'sometimes' }, /^push: expected one of auto, true, false, got "sometimes"$/],
    ['no images when pushing', { images: '', push: 'true' }, /^images: no image names given/],
    // Inputs that escape or mislead, refused before any Docker work.
    ['cache-scope: ..', { 'cache-scope': '..' }, /^cache-scope: "\.\." has no letter or digit/],
    ['cache-scope: ../..', { 'cache-scope': '../..' }, /^cache-scope: "\.\.\/\.\." has no letter or digit/],
    [
      'a Dockerfile outside the workspace',
      { file: '../../../../../../../../../etc/hostname' },
      /^file: "(\.\.\/)+etc\/hostname" is outside the workspace ".+"; the Dockerfile must be a file of the workspace/,
    ],
    ['an unknown platform architecture', { platforms: 'linux/amd64,linux/notanarch' }, /^platforms: "linux\/notanarch": unknown architecture "notanarch"/],
    ['a platform without an architecture', { platforms: 'linux' }, /^platforms: "linux": expected os\/arch or os\/arch\/variant/],
    ['a label line without "="', { labels: 'maintainer=me\nno-equals-label' }, /^labels: expected KEY=VALUE, got "no-equals-label"$/],
    ['an annotation line without "="', { annotations: 'no-equals-annotation' }, /^annotations: expected KEY=VALUE, got "no-equals-annotation"$/],
    ['a missing Dockerfile', { file: 'missing' }, /^file: "missing" does not exist$/],
    ['a context without a Dockerfile', { context: 'sub' }, /^file: no Dockerfile in the context: "sub\/Dockerfile" does not exist/],
    ['a missing context directory', { context: 'missing' }, /^context: directory "missing" does not exist/],
    ['a 100 KB tag', { tags: `type=raw,value=${BIG}` }, /^tags: tag "a{60}…" is 100000 characters long \(Docker allows at most 128\)$/],
    ['a 100 KB image name', { images: BIG }, /^images: invalid image name "a{60}…" in "a{60}…"$/],
    ['a target that is no stage name', { target: '-x' }, /^target: "-x" is not a stage name/],
    ['a target the Dockerfile does not have', { target: 'tset' }, /^target: stage "tset" is not in "Dockerfile" \(its stages: base, final\)$/],
  ];
  const DOCKERFILES: Record<string, string> = { 'a target that is no stage name': STAGES, 'a target the Dockerfile does not have': STAGES };
  // Three parameters, as many as a row has: a fourth would be taken for jest's done callback.
  test.each(rows)('%s', async (name, inp, re) => {
    const ws = await tempDir('ws');
    await fs.writeFile(path.join(ws, 'Dockerfile'), DOCKERFILES[name] ?? 'FROM busybox\n');
    await fs.mkdir(path.join(ws, 'sub'));
    // What a scope that escapes the action's directory would remove (RUNNER_TEMP/in and /out).
    const runnerTemp = await tempDir('rt');
    for (const d of ['in', 'out']) {
      await fs.mkdir(path.join(runnerTemp, d));
      await fs.writeFile(path.join(runnerTemp, d, 'keep'), 'x');
    }
    const r = await runAction({ workspace: ws, runnerTemp, inputs: { images: 'x/y', push: 'false', ...inp } });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(re);
    expect(errors[0].message).not.toContain('\n');
    expect(errors[0].message.length).toBeLessThan(300);
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect(r.log).not.toContain('just-a-value-no-equals');
    // No work started: no Docker setup, no builder, no cache restore, no build.
    expect(r.main.groups.filter((g) => /^(Docker and buildx|Builder|Registry login|Restore layer cache|Build)\b/.test(g))).toEqual([]);
    for (const d of ['in', 'out']) expect(await fs.readFile(path.join(runnerTemp, d, 'keep'), 'utf8')).toBe('x');
  });
});
