// Two jobs of one self-hosted runner build and push the same tag on the same
// Docker daemon at once. Both must end green, and the registry's tag must name one of the two
// images they report.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runAction, tempDir, uniqueRepo, registryDigest, TOOLCHAIN, expectExit0 } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

const DOCKERFILE = 'FROM busybox\nARG RUN_NO\nRUN echo "run $RUN_NO" > /run.txt\nCMD ["cat", "/run.txt"]\n';

async function workspace(): Promise<string> {
  const ws = await tempDir('ws-conc');
  await fs.writeFile(path.join(ws, 'Dockerfile'), DOCKERFILE);
  return ws;
}

const onDockerDriver = TOOLCHAIN.driver === 'docker' ? describe : describe.skip;

onDockerDriver('two jobs push the same new tag on one daemon at once', () => {
  test.each([
    ['a plain push', {}],
    ['a push staged by the leak guard (load, scan, push)', { secrets: 'token=concurrency-secret-value-1234' }],
  ])('%s: both green, the tag is one of theirs', async (_name, extra: Record<string, string>) => {
    const repo = uniqueRepo('concurrent');
    const runs = await Promise.all(
      [1, 2].map(async (n) =>
        runAction({
          workspace: await workspace(),
          inputs: { images: repo, 'build-args': `RUN_NO=${n}`, cache: 'false', ...extra },
        }),
      ),
    );
    for (const r of runs) {
      const errors = r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
      expect(errors).toEqual([]);
      expectExit0(r);
      expectExit0(r, 'post');
      expect(r.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const digests = runs.map((r) => r.outputs.digest);
    // Different build arguments: two different images.
    expect(new Set(digests).size).toBe(2);
    expect(digests).toContain(await registryDigest(repo, 'main'));
  });
});
