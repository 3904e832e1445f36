// A cancelled step. The runner cancels a step by a signal to its process
// (SIGINT, then SIGTERM 7.5 s later, then it kills the tree 2.5 s after that). Main must stop the
// programs it started (docker buildx build, the cache restore), fail with one line and exit; post
// must save no cache and remove what the cut-short restore left.
import { jest } from '@jest/globals';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runAction, startCache, tempDir, uniqueRepo, expectExit0 } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

let cache: CacheServer;
beforeAll(async () => {
  cache = await startCache();
});
afterAll(async () => {
  await cache.close();
});

/** Command lines of the processes that contain every one of `needles`, read from /proc. */
function processesWith(...needles: string[]): string[] {
  const out: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (needles.every((n) => cmd.includes(n))) out.push(`${e}: ${cmd}`);
  }
  return out;
}

/** Files under `dir` whose name is one of @actions/cache's archive names. */
async function cacheArchives(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const f of (await fs.readdir(dir, { recursive: true })) as string[]) {
    if (/^cache\.(tzst|tgz|tar(\.\w+)?)$/.test(path.basename(f))) found.push(f);
  }
  return found;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

const errorsOf = (r: Awaited<ReturnType<typeof runAction>>) => r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
const writes = () => cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload' || l.kind === 'finalize');

// SIGINT is what the runner sends first on a cancel, SIGTERM 7.5 s later.
test.each(['SIGINT', 'SIGTERM'] as const)(
  '%s while a RUN step runs: buildx is stopped at once, the step fails with one line, post cleans up and saves nothing',
  async (signal) => {
    const nonce = randomBytes(6).toString('hex');
    const ws = await tempDir('ws-cancel');
    // A step that would run for five minutes; its output line says it has started.
    await fs.writeFile(path.join(ws, 'Dockerfile'), `FROM busybox\nRUN echo waiting-${nonce} && for i in $(seq 1 600); do sleep 0.5; done\n`);
    const runnerTemp = await tempDir('rt-cancel');
    const repo = uniqueRepo('cancel-build');
    cache.resetLog();
    let leftAfterMain: string[] | undefined;
    const r = await runAction({
      workspace: ws,
      cache,
      runnerTemp,
      inputs: { images: repo, secrets: 'token=a-secret-for-the-cancelled-run' },
      interrupt: { when: (line) => new RegExp(`^#\\d+ \\d+\\.\\d+ waiting-${nonce}$`).test(line), signal },
      // Before post starts, while anything main left behind would still run.
      afterEntry: (e) => {
        if (e.entry === 'main') leftAfterMain = processesWith('buildx', 'build', runnerTemp);
      },
    });
    expect(r.main.interruptedMs).not.toBeNull();
    expect(leftAfterMain).toEqual([]);
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([`Cancelled (${signal}): stopped the build and the layer cache restore; post removes what they left.`]);
    // Within the runner's grace (2.5 s after SIGTERM), give or take a loaded machine.
    process.stdout.write(`main exited ${r.main.interruptedMs} ms after ${signal} during the build\n`);
    expect(r.main.interruptedMs!).toBeLessThan(10_000);
    expectExit0(r, 'post');
    expect(r.post?.log).toContain(`Layer cache not saved: the run was cancelled (${signal}).`);
    expect(writes()).toEqual([]);
    expect(await exists(path.join(runnerTemp, 'oneshot-build'))).toBe(false);
    expect((await fs.readdir(runnerTemp)).filter((d) => d.startsWith('obc-secrets-') || d.startsWith('obc-docker-'))).toEqual([]);
    // BuildKit cancels the step once its client is gone: the RUN's shell ends too.
    const deadline = Date.now() + 30_000;
    while (processesWith(`waiting-${nonce}`).length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(`waiting-${nonce}`)).toEqual([]);
  },
);

test('SIGTERM while the cache restore downloads: no partial archive or extracted file is left after post, no cache saved', async () => {
  const ws = await tempDir('ws-cancel-restore');
  await fs.writeFile(
    path.join(ws, 'Dockerfile'),
    `FROM busybox\nRUN echo ${randomBytes(6).toString('hex')} > /x && dd if=/dev/urandom of=/blob bs=1k count=64 2>/dev/null\n`,
  );
  const repo = uniqueRepo('cancel-restore');
  const first = await runAction({ workspace: ws, cache, inputs: { images: repo } });
  expectExit0(first);
  expect(cache.entries().length).toBeGreaterThan(0);
  const entries = cache.entries().length;

  // Every download is held: the restore hangs in the middle of downloading its first archive.
  cache.setFaults([{ op: 'download', type: 'slow', delayMs: 5 * 60 * 1000 }]);
  cache.resetLog();
  const runnerTemp = await tempDir('rt-cancel-restore');
  try {
    const r = await runAction({
      workspace: ws,
      cache,
      runnerTemp,
      inputs: { images: repo },
      interrupt: { when: (line) => line.startsWith('Cache hit for'), signal: 'SIGTERM' },
    });
    expect(r.main.interruptedMs).not.toBeNull();
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([expect.stringMatching(/^Cancelled \(SIGTERM\): /)]);
    process.stdout.write(`main exited ${r.main.interruptedMs} ms after SIGTERM during the restore\n`);
    expect(r.main.interruptedMs!).toBeLessThan(10_000);
    expectExit0(r, 'post');
    // Main was stopped before it recorded a cache to save: post has none to save.
    expect(r.post?.log).not.toContain('Layer cache save:');
    expect(r.post?.log).toContain('Removed the working files of the cancelled or failed run');
    expect(await cacheArchives(runnerTemp)).toEqual([]);
    expect(await exists(path.join(runnerTemp, 'oneshot-build'))).toBe(false);
    expect(writes()).toEqual([]);
    expect(cache.entries().length).toBe(entries);
  } finally {
    cache.clearFaults();
  }
});
