// fileDigests: the same digests as fileDigest, in order, on this thread and on worker threads;
// undefined for a file that cannot be read.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { digestsOnWorkers, fileDigest, fileDigests, mapLimit } from '../../src/files.js';

let dir: string;
let files: string[];
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const contents = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(5 << 20, 7), Buffer.from('four')];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'files-test-'));
  files = await Promise.all(
    contents.map(async (c, i) => {
      const f = path.join(dir, `f${i}`);
      await fs.writeFile(f, c);
      return f;
    }),
  );
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('fileDigests', () => {
  it.each([
    ['on this thread (below the worker threshold)', undefined],
    ['on worker threads (threshold 0)', 0],
  ])('%s: each file its sha256, in order; a missing file undefined', async (_, min) => {
    const missing = path.join(dir, 'missing');
    const want = [...contents.map(sha).slice(0, 2), undefined, ...contents.map(sha).slice(2)];
    await expect(fileDigests([files[0], files[1], missing, files[2], files[3]], min)).resolves.toEqual(want);
    await expect(fileDigest(files[2])).resolves.toBe(sha(contents[2]));
  });

  it('the worker threads themselves (no fallback): the same digests', async () => {
    const missing = path.join(dir, 'missing');
    await expect(digestsOnWorkers([missing, ...files], 2)).resolves.toEqual([undefined, ...contents.map(sha)]);
  });

  it('no files: none', async () => {
    await expect(fileDigests([], 0)).resolves.toEqual([]);
  });
});

describe('mapLimit', () => {
  it('keeps the order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setImmediate(r));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
