// Issue 2: the whole pipeline through the bundled dist/, against the real Docker Engine, buildx,
// registry and the local Actions cache service.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, stepCached, registryDigest, registryTags,
  registryBlobs, cacheArchiveContents, containsBytes, sha256, tempDir,
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
    expect(cold.main.exitCode).toBe(0);
    expect(cold.post?.exitCode).toBe(0);
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

  test('cold run saved the layer cache to the service', () => {
    expect(cold.log).toMatch(/Layer cache: saved obc1-idx-/);
    expect(cold.outputs['cache-key']).toMatch(/^obc1-idx-.*-feature-x-a{40}$/);
  });

  test('warm run on a pruned builder restores the cache: the expensive stage is CACHED', () => {
    expect(warm.main.exitCode).toBe(0);
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
    expect(r.main.exitCode).toBe(0);
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
      workspace: ws, cache, inputs: inputs(repo), event: 'pull_request', ref: 'refs/pull/15/merge', payload, secrets: [SECRET],
      env: {},
    });
    expect(r.main.exitCode).toBe(0);
    expect(r.outputs.tags).toBe(`${repo}:pr-15`);
    expect(r.outputs.digest).toBe('');
    expect(await registryTags(repo)).toEqual([]);
    expect(r.log).toMatch(/Not pushing \(push: auto does not push on pull_request events\)/);
    expect(cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload')).toEqual([]);
    expect(cache.log().some((l) => l.kind === 'lookup')).toBe(true);
  });
});

describe('bad input fails with one clear line naming the input', () => {
  const rows: [string, Record<string, string>, RegExp][] = [
    ['a secret line without "="', { images: 'x/y', secrets: 'just-a-value-no-equals' }, /^secrets: expected id=value on line 1/],
    ['an unknown push value', { images: 'x/y', push: 'sometimes' }, /^push: expected one of auto, true, false, got "sometimes"$/],
    ['no images when pushing', { images: '', push: 'true' }, /^images: no image names given/],
  ];
  test.each(rows)('%s', async (_name, inp, re) => {
    const ws = await tempDir('ws');
    await fs.writeFile(path.join(ws, 'Dockerfile'), 'FROM busybox\n');
    const r = await runAction({ workspace: ws, inputs: inp });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(re);
    expect(errors[0].message).not.toContain('\n');
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect(r.log).not.toContain('just-a-value-no-equals');
  });
});
