// The remote driver (toolchain d: a BuildKit daemon on a local unix socket): one cold and one warm
// run through `driver: remote`. auto fetches eagerly there and says why; cache-fetch: lazy works,
// since this BuildKit runs on the runner. scripts/test.sh runs this file on toolchain d only.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { runAction, startCache, workspaceFrom, uniqueRepo, stepCached, sha256, registryDigest, TOOLCHAIN } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

const SECRET = 'remote-driver-secret';
const EXPENSIVE = 'RUN dd if=/dev/urandom';
const endpoint = process.env.OBC_REMOTE_ENDPOINT ?? '';
const inputs = (repo: string, extra: Record<string, string> = {}) => ({
  images: repo,
  driver: 'remote',
  endpoint,
  secrets: `token=${SECRET}`,
  'build-args': `EXPECTED_DIGEST=${sha256(SECRET)}`,
  ...extra,
});
/** A long-running BuildKit keeps its own cache: prune it, so a warm run starts as a fresh runner's. */
function pruneRemote(): void {
  const name = 'obc-test-remote-prune';
  execFileSync('docker', ['buildx', 'create', '--name', name, '--driver', 'remote', endpoint], { stdio: 'ignore' });
  try {
    execFileSync('docker', ['buildx', 'prune', '--builder', name, '-af'], { stdio: 'ignore' });
  } finally {
    execFileSync('docker', ['buildx', 'rm', name], { stdio: 'ignore' });
  }
}
const downloaded = (cache: CacheServer) =>
  cache
    .log()
    .filter((l) => l.kind === 'download')
    .reduce((s, l) => s + l.bytesOut, 0);

describe('driver: remote', () => {
  let cache: CacheServer;
  beforeAll(async () => {
    expect(TOOLCHAIN.name).toBe('d');
    expect(endpoint).toMatch(/^unix:\/\//);
    cache = await startCache();
  });
  afterAll(() => cache.close());

  test('a cold run saves, a warm run is an exact hit, eagerly with auto and lazily when asked', async () => {
    const ws = await workspaceFrom('app');
    const repo = uniqueRepo('remote');
    const cold = await runAction({ workspace: ws, cache, inputs: inputs(repo), sha: '1'.repeat(40), secrets: [SECRET] });
    expect(cold.conclusion).toBe('success');
    expect(cold.outputs.driver).toBe('remote');
    expect(cold.log).toContain("Layer cache: fetching eagerly, because a remote builder may not reach this runner's loopback");
    expect(cold.log).toMatch(/Layer cache: saved obc1-idx-/);
    expect(cold.outputs.digest).toBe(await registryDigest(repo, 'main'));

    pruneRemote();
    const warmEager = await runAction({ workspace: ws, cache, inputs: inputs(repo), sha: '2'.repeat(40), secrets: [SECRET] });
    expect(warmEager.conclusion).toBe('success');
    expect(warmEager.outputs['cache-hit']).toBe('exact');
    expect(stepCached(warmEager.log, EXPENSIVE)).toBe(true);

    pruneRemote();
    cache.resetLog();
    const warmLazy = await runAction({ workspace: ws, cache, inputs: inputs(repo, { 'cache-fetch': 'lazy' }), sha: '3'.repeat(40), secrets: [SECRET] });
    expect(warmLazy.conclusion).toBe('success');
    expect(warmLazy.outputs['cache-hit']).toBe('exact');
    expect(stepCached(warmLazy.log, EXPENSIVE)).toBe(true);
    expect(downloaded(cache)).toBeLessThan(2 * 1024 * 1024);
  });
});
