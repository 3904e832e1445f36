// The hosted-runner shape (toolchain c: Docker 28.5 with the classic image store): the action's
// docker-container builder on the host network fetches lazily through the loopback registry and
// its credential; cache: false needs no container; driver: docker uses no layer cache (and says
// why) and no default provenance; a BuildKit image that cannot be had is named. scripts/test.sh runs this file
// on toolchain c only.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { runAction, startCache, workspaceFrom, uniqueRepo, stepCached, sha256, registryDigest, pruneBuilder, TOOLCHAIN } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(15 * 60 * 1000);

const SECRET = 'classic-store-secret';
const EXPENSIVE = 'RUN dd if=/dev/urandom';
const inputs = (repo: string, extra: Record<string, string> = {}) => ({
  images: repo,
  secrets: `token=${SECRET}`,
  'build-args': `EXPECTED_DIGEST=${sha256(SECRET)}`,
  ...extra,
});
const downloaded = (cache: CacheServer) =>
  cache
    .log()
    .filter((l) => l.kind === 'download')
    .reduce((s, l) => s + l.bytesOut, 0);
const uploaded = (cache: CacheServer) =>
  cache
    .log()
    .filter((l) => l.kind === 'upload')
    .reduce((s, l) => s + l.bytesIn, 0);
const builderContainers = () =>
  execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' })
    .split('\n')
    .filter((n) => n.startsWith('buildx_buildkit_obc-'));
// Builder containers of this file's runs: one left by a run that was killed before this file
// started (its post never ran) is not theirs.
let leftBefore = new Set<string>();
const builders = () => builderContainers().filter((n) => !leftBefore.has(n));

let n = 0;
const sha = () => (++n).toString(16).padStart(40, 'd');

describe('the classic image store (hosted-runner shape)', () => {
  let cache: CacheServer;
  let ws: string;
  const repo = uniqueRepo('classic');
  let coldUpload = 0;
  beforeAll(async () => {
    expect(TOOLCHAIN.name).toBe('c');
    leftBefore = new Set(builderContainers());
    cache = await startCache();
    ws = await workspaceFrom('app');
  });
  afterAll(() => cache.close());

  test('auto creates a docker-container builder on the host network; cold saves, warm is an exact hit fetched lazily', async () => {
    const cold = await runAction({ workspace: ws, cache, inputs: inputs(repo), sha: sha(), secrets: [SECRET] });
    expect(cold.conclusion).toBe('success');
    expect(cold.outputs.driver).toBe('docker-container');
    expect(cold.log).toContain('Builder gets network=host');
    expect(cold.log).toMatch(/Layer cache: saved obc1-idx-/);
    coldUpload = uploaded(cache);
    expect(coldUpload).toBeGreaterThan(20 * 1024 * 1024);
    // Post removed the builder and its container.
    expect(builders()).toEqual([]);

    cache.resetLog();
    const warm = await runAction({ workspace: ws, cache, inputs: inputs(repo), sha: sha(), secrets: [SECRET] });
    expect(warm.conclusion).toBe('success');
    expect(warm.outputs['cache-hit']).toBe('exact');
    expect(stepCached(warm.log, EXPENSIVE)).toBe(true);
    expect(downloaded(cache)).toBeLessThan(coldUpload * 0.05);
    expect(warm.outputs.digest).toBe(await registryDigest(repo, 'main'));
    // The credential went to the private Docker config only while the build ran, never to the log.
    expect(warm.log).not.toMatch(/"auth":|Basic [A-Za-z0-9+/=]{20,}/);
  });

  test('cache-fetch: eager on the same builder downloads the whole cache before the build', async () => {
    cache.resetLog();
    const r = await runAction({ workspace: ws, cache, inputs: inputs(repo, { 'cache-fetch': 'eager', push: 'false' }), sha: sha(), secrets: [SECRET] });
    expect(r.conclusion).toBe('success');
    expect(r.outputs['cache-hit']).toBe('exact');
    expect(stepCached(r.log, EXPENSIVE)).toBe(true);
    expect(downloaded(cache)).toBeGreaterThan(20 * 1024 * 1024);
  });

  // Measured first with a read-only restore: the cache was imported through the loopback registry,
  // yet no step was CACHED, because this builder resolves base images from the daemon's own store
  // (other cache keys), even with the same base image digest. So the action does not try.
  test('driver: docker uses no layer cache and says why; no provenance error; the image is pushed', async () => {
    pruneBuilder();
    cache.resetLog();
    const r = await runAction({ workspace: ws, cache, inputs: inputs(repo, { driver: 'docker' }), sha: sha(), secrets: [SECRET] });
    expect(r.conclusion).toBe('success');
    expect(r.outputs.driver).toBe('docker');
    expect(r.log).not.toContain('Attestation is not supported');
    expect(r.log).toContain('No provenance attestation: the docker driver of a daemon without the containerd image store cannot add attestations.');
    expect(r.main.annotations.filter((a) => a.level === 'warning').map((a) => a.message)).toContainEqual(
      "Layer cache: not used: the docker driver of a daemon without the containerd image store can neither export a layer cache nor use one another builder made (its base images get other cache keys); use driver: docker-container, or turn on the daemon's containerd image store.",
    );
    expect(r.outputs['cache-hit']).toBe('miss');
    expect(r.log).not.toContain('importing cache manifest');
    expect(r.post?.summary).toContain('Not saved: the docker driver of a daemon without the containerd image store can neither export');
    expect(cache.log()).toEqual([]);
    expect(r.outputs.digest).toBe(await registryDigest(repo, 'main'));
  });

  test('driver: docker with provenance asked for fails before the build, naming the input', async () => {
    const r = await runAction({ workspace: ws, cache, inputs: inputs(repo, { driver: 'docker', provenance: 'mode=max' }), sha: sha(), secrets: [SECRET] });
    expect(r.conclusion).toBe('failure');
    expect(r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual([
      'provenance: the docker driver of a daemon without the containerd image store cannot add attestations; set provenance: false, or use driver: docker-container',
    ]);
    expect(r.log).not.toMatch(/^#\d+ \[/m);
  });

  test("cache: false builds with the daemon's own BuildKit: no container is started", async () => {
    const r = await runAction({ workspace: ws, inputs: inputs(repo, { cache: 'false', push: 'false' }), sha: sha(), secrets: [SECRET] });
    expect(r.conclusion).toBe('success');
    expect(r.outputs.driver).toBe('docker');
    expect(r.outputs['cache-hit']).toBe('disabled');
    expect(r.log).not.toContain('buildx create');
  });

  test('a BuildKit image that cannot be pulled fails with one line naming it and how to choose another', async () => {
    const image = 'registry.invalid/nobody/buildkit:none';
    const r = await runAction({
      workspace: ws,
      inputs: inputs(repo, { 'driver-opts': `image=${image}`, push: 'false', cache: 'false' }),
      sha: sha(),
      secrets: [SECRET],
    });
    expect(r.conclusion).toBe('failure');
    const errors = r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`driver: the docker-container builder could not start its BuildKit image ${image}:`);
    expect(errors[0]).toContain('driver-opts: image=<ref>');
    expect(builders()).toEqual([]);
  });
});
