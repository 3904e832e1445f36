// The leak guard with cache mounts: a secret left in a RUN --mount=type=cache directory would be saved to the
// Actions cache by cache-mounts. The leak guard checks the mount exports before anything leaves.
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, registryTags, cacheArchiveContents, containsBytes } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

test('a secret copied into a cache mount stops the step: nothing pushed, nothing cached, the id named', async () => {
  const cache = await startCache();
  try {
    const secret = `mount-leak-${randomBytes(12).toString('hex')}`;
    const repo = uniqueRepo('mount-leak');
    const ws = await workspaceFrom('mount-leak');
    pruneBuilder();
    const r = await runAction({
      workspace: ws,
      cache,
      secrets: [secret],
      inputs: { images: repo, secrets: `token=${secret}`, 'cache-mounts': '/cache', 'build-args': `RUN_NONCE=${randomBytes(4).toString('hex')}` },
    });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/"token"/);
    expect(errors[0]).toMatch(/cache mount/);
    expect(errors[0]).not.toContain(secret);
    expect(r.log).not.toContain(secret);
    expect(await registryTags(repo)).toEqual([]);
    expect(cache.log().filter((l) => l.kind === 'create')).toEqual([]);
    expect(containsBytes(await cacheArchiveContents(cache), secret)).toBe(false);
    expect(r.post?.log).toMatch(/Cache mounts not saved: the build did not succeed/);
  } finally {
    await cache.close();
  }
});
