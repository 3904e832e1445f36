// The layer cache under contention and with a slow service: two jobs of one
// commit whose post steps save at the same moment, and a post step whose lookups time out. Real
// dist/, real Docker and registry, the local cache service with its fault injection.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, stepCached, buildGroup, TOOLCHAIN } from './harness.js';
import type { CacheServer, RunOptions } from './harness.js';

jest.setTimeout(20 * 60 * 1000);

const STEPS = ['RUN head -c 1200000', 'RUN head -c 800000', 'COPY src/ /src/', 'RUN cat /src/*'];
const RAN = ['RACE-A-RAN', 'RACE-B-RAN', 'RACE-C-RAN'];
const PAIRS = 10;

type Result = Awaited<ReturnType<typeof runAction>>;

let n = 0;
function nextSha(): string {
  return (++n).toString(16).padStart(40, 'd');
}

function ok(r: Result): Result {
  if (r.main.exitCode !== 0 || r.post?.exitCode !== 0) throw new Error(`run failed:\n${r.log.slice(-3000)}`);
  return r;
}

function job(cache: CacheServer, ws: string, repo: string, sha: string, o: Partial<RunOptions> = {}): Promise<Result> {
  return runAction({ workspace: ws, cache, inputs: { images: repo, push: 'false' }, sha, ...o }).then(ok);
}

/** The stored index entries, oldest first, with their cache config read from the archive. */
interface StoredIndex {
  key: string;
  usable: number;
  records: number;
}

function storedIndexes(cache: CacheServer): StoredIndex[] {
  const raw = JSON.parse(execFileSync('cat', [path.join(cache.dir, 'index.json')], { encoding: 'utf8' }));
  const byKey = new Map<string, string>((raw.entries as { key: string; blob: string }[]).map((e) => [e.key, e.blob]));
  return cache
    .entries()
    .filter((e) => e.key.startsWith('obc1-idx-'))
    .map((e) => {
      const archive = path.join(cache.dir, 'blobs', byKey.get(e.key)!);
      const text = execFileSync('tar', ['-I', 'zstd -d --long=30', '-xOf', archive, '--wildcards', '*/meta.json'], { encoding: 'utf8' });
      const meta = JSON.parse(text);
      const records = meta.image.config.records as { layers?: unknown[] }[];
      return { key: e.key, usable: records.filter((r) => (r.layers?.length ?? 0) > 0).length, records: records.length };
    });
}

/** What a run logged about the layer cache, to say why a check failed. */
function cacheLines(r: Result): string {
  return r.log
    .split('\n')
    .filter((l) => /layer cache|Failed to|cache service|reserve/i.test(l))
    .join('\n');
}

/** The index a later commit of the branch restores: the newest with the branch's prefix. */
function newestOfBranch(cache: CacheServer, runs: Result[] = []): StoredIndex {
  const all = storedIndexes(cache).filter((i) => /^obc1-idx-.*-main-/.test(i.key));
  if (all.length === 0) throw new Error(`no index of the branch is stored; the runs' cache lines:\n${runs.map(cacheLines).join('\n--\n')}`);
  return all[all.length - 1];
}

/** Every step came from the cache: none of them ran. */
function nothingRebuilt(r: Result): void {
  const log = buildGroup(r.log);
  for (const s of STEPS) expect([s, stepCached(r.log, s)]).toEqual([s, true]);
  for (const word of RAN) expect(log).not.toContain(word);
}

/**
 * Two jobs of one commit: main of the first, then main of the second, then both posts at the
 * same moment (the second job's gate opens the first one's).
 */
async function racingPair(cache: CacheServer, ws: string, repo: string, sha: string): Promise<[Result, Result]> {
  let openA!: () => void;
  const gateA = new Promise<void>((resolve) => (openA = resolve));
  let mainADone!: () => void;
  const aMain = new Promise<void>((resolve) => (mainADone = resolve));
  const a = job(cache, ws, repo, sha, {
    afterEntry: async (e) => {
      if (e.entry !== 'main') return;
      mainADone();
      await gateA;
    },
  });
  await Promise.race([aMain, a]);
  const b = job(cache, ws, repo, sha, { afterEntry: async (e) => (e.entry === 'main' ? openA() : undefined) });
  return Promise.all([a, b]);
}

describe('two jobs of one commit save at the same moment', () => {
  test(`${PAIRS} racing pairs each leave a full index, and a third run is an exact hit`, async () => {
    const ws = await workspaceFrom('race');
    const repo = uniqueRepo('race');
    // A solo save: the number of records with layers a full index has.
    const solo = await startCache();
    let full: StoredIndex;
    try {
      pruneBuilder();
      await job(solo, ws, repo, nextSha());
      full = newestOfBranch(solo);
      expect(full.usable).toBeGreaterThanOrEqual(4);
    } finally {
      await solo.close();
    }
    const outcomes: string[] = [];
    for (let i = 0; i < PAIRS; i++) {
      // Each pair meets an empty service, so both jobs have every blob to save.
      const cache = await startCache();
      try {
        const sha = nextSha();
        const pair = await racingPair(cache, ws, repo, sha);
        const newest = newestOfBranch(cache, pair);
        outcomes.push(
          `${i}: ${storedIndexes(cache)
            .map((x) => `${x.key.slice(-6)}=${x.usable}/${x.records}`)
            .join(' ')}`,
        );
        expect([i, newest.usable]).toEqual([i, full.usable]);
        // A re-run of the commit on a fresh runner: everything comes from the saved cache.
        pruneBuilder();
        const third = await job(cache, ws, repo, sha);
        expect([i, third.outputs['cache-hit']]).toEqual([i, 'exact']);
        nothingRebuilt(third);
        expect(third.log).toContain('Layer cache not saved: nothing changed');
      } finally {
        await cache.close();
      }
    }
    console.log(`racing pairs on toolchain ${TOOLCHAIN.name} (key suffix=records with layers/records):\n${outcomes.join('\n')}`);
  });
});

describe('a slow service in post never leaves a worse index', () => {
  test('lookups that time out in main and post: the newest index of the branch stays full, and the next commit restores it', async () => {
    const cache = await startCache();
    try {
      const ws = await workspaceFrom('race');
      const repo = uniqueRepo('race-slow');
      pruneBuilder();
      await job(cache, ws, repo, nextSha());
      const before = newestOfBranch(cache);
      // The next commit on the same runner (the builder still holds every layer): the index lookup
      // of main times out, so the run starts cold and its post has every blob to look up; the
      // first blob lookup of post times out too.
      cache.setFaults([{ op: 'lookup', type: 'slow', delayMs: 30_000, key: 'obc1-idx-' }]);
      const env = { OBC_CACHE_TIMEOUT_SECONDS: '2' };
      const slow = await job(cache, ws, repo, nextSha(), {
        env,
        afterEntry: async (e) =>
          e.entry === 'main' ? cache.setFaults([{ op: 'lookup', type: 'slow', delayMs: 30_000, key: 'obc1-blob-', times: 1 }]) : undefined,
      });
      cache.clearFaults();
      expect(slow.outputs['cache-hit']).toBe('miss');
      expect(slow.log).toMatch(/took longer than 2s/);
      const after = newestOfBranch(cache);
      expect(after.usable).toBeGreaterThanOrEqual(before.usable);
      // The next commit, on a fresh runner, restores a cache that serves every step.
      await fs.writeFile(path.join(ws, 'README.md'), 'docs only\n');
      pruneBuilder();
      const next = await job(cache, ws, repo, nextSha());
      expect(next.outputs['cache-hit']).toBe('exact');
      nothingRebuilt(next);
    } finally {
      await cache.close();
    }
  });
});
