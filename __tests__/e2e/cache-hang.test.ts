// A cache service that hangs or keeps failing never hangs the step: every call is
// abandoned at its deadline, the cache phase of a step has one budget, and main and post exit as
// soon as their work is done. Real dist/, real Docker, the local cache service with its 'hang'
// fault; the runner emulation kills a step that is still running after RUN_LIMIT_MS, so a process
// that does not exit fails its test there rather than at jest's timeout.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, registryDigest, sha256 } from './harness.js';
import type { CacheServer } from './harness.js';
import type { Fault } from '../../scripts/lib/cache-server.mjs';

jest.setTimeout(30 * 60 * 1000);

const SECRET = 'cache-hang-secret-value';
/** Small limits, so that a hang costs seconds: one call, and the whole cache phase of a step. */
const CALL_S = 3;
const BUDGET_S = 6;
const LIMITS = { OBC_CACHE_TIMEOUT_SECONDS: String(CALL_S), OBC_CACHE_BUDGET_SECONDS: String(BUDGET_S) };
/** "A few seconds" on top of the budget: post also removes the builder and writes its summary. */
const SLACK_MS = 15_000;
/** How long a step may run before the runner emulation kills it (and the test fails). */
const RUN_LIMIT_MS = 4 * 60 * 1000;
/** How long a step may go on after its last line: an exit, not a wait for a hung socket. */
const LINGER_MS = 3000;

type Result = Awaited<ReturnType<typeof runAction>>;

let n = 0;
const nextSha = () => (++n).toString(16).padStart(40, 'd');

function inputs(repo: string, extra: Record<string, string> = {}): Record<string, string> {
  return { images: repo, secrets: `token=${SECRET}`, 'build-args': `EXPECTED_DIGEST=${sha256(SECRET)}`, ...extra };
}

const warnings = (r: Result) => [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'warning').map((a) => a.message);
const errors = (r: Result) => [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'error').map((a) => a.message);

/** How long main's cache restore took, as main reports it. */
function restoreMs(log: string): number {
  const m = /^Layer cache: (?:exact|partial|miss)[;,] .*? in (\d+) ms/m.exec(log);
  if (!m) throw new Error(`no restore line in the log:\n${log.slice(-2000)}`);
  return Number(m[1]);
}

/** The job ended green, every step's process exited by itself, soon after its last line. */
function expectGreenAndExited(r: Result): void {
  for (const step of [r.main, r.post!]) {
    expect({ entry: step.entry, timedOut: step.timedOut, exitCode: step.exitCode, conclusion: step.conclusion }).toEqual({
      entry: step.entry,
      timedOut: false,
      exitCode: 0,
      conclusion: 'success',
    });
    expect(step.durationMs - step.lastOutputMs).toBeLessThan(LINGER_MS);
  }
  expect(errors(r)).toEqual([]);
}

describe('a hung or failing cache service never hangs the step', () => {
  let cache: CacheServer;
  let ws: string;
  const repo = uniqueRepo('hang');
  const run = (o: Partial<Parameters<typeof runAction>[0]> = {}) => {
    pruneBuilder();
    return runAction({
      workspace: ws,
      cache,
      inputs: inputs(repo),
      sha: nextSha(),
      secrets: [SECRET],
      timeoutMs: RUN_LIMIT_MS,
      ...o,
      env: { ...LIMITS, ...(o.env ?? {}) },
    });
  };
  const change = (text: string) => fs.writeFile(path.join(ws, 'src/app.txt'), text);
  /** The key of the entry that holds the 20 MiB dependency layer. */
  const depsKey = () =>
    cache
      .entries()
      .filter((e) => e.key.startsWith('obc1-blob-'))
      .sort((a, b) => b.size - a.size)[0].key;

  beforeAll(async () => {
    cache = await startCache();
    ws = await workspaceFrom('app');
    const r = await run({ env: { OBC_CACHE_TIMEOUT_SECONDS: '', OBC_CACHE_BUDGET_SECONDS: '' } });
    if (r.conclusion !== 'success') throw new Error(`seeding run failed:\n${r.log.slice(-3000)}`);
  });
  afterEach(() => cache.clearFaults());
  afterAll(() => cache.close());

  const mainHangs: [string, Fault, Record<string, string>][] = [
    ['the index lookup hangs', { op: 'lookup', type: 'hang' }, {}],
    ['the index download hangs before an answer', { op: 'download', type: 'hang', key: 'obc1-idx-' }, {}],
    ['a blob download stalls after 64 KiB (eager)', { op: 'download', type: 'hang', bytes: 64 * 1024, key: 'obc1-blob-' }, { 'cache-fetch': 'eager' }],
  ];
  test.each(mainHangs)('main: %s: the restore is abandoned within the budget, the build is pushed, main exits', async (_name, fault, extra) => {
    if (fault.key === 'obc1-blob-') fault = { ...fault, key: depsKey() };
    cache.setFaults([fault]);
    await change(`main hang ${_name}\n`);
    const r = await run({ inputs: inputs(repo, { 'cache-save': 'false', ...extra }) });
    expectGreenAndExited(r);
    expect(cache.log().some((l) => l.fault === 'hang')).toBe(true);
    expect(warnings(r).join('\n')).toMatch(/took longer than 3s; abandoned it/);
    expect(restoreMs(r.log)).toBeLessThan(BUDGET_S * 1000 + 3000);
    expect(await registryDigest(repo, 'main')).toBe(r.outputs.digest);
    // The abandoned requests were closed by the client (a stalled upload aside, the server sees it).
    expect(cache.stats().openRequests).toBe(0);
  });

  const postHangs: [string, Fault][] = [
    ['create hangs', { op: 'create', type: 'hang' }],
    ['an upload hangs', { op: 'upload', type: 'hang' }],
    ['an upload stalls after 64 KiB', { op: 'upload', type: 'hang', bytes: 64 * 1024 }],
    ['finalize hangs', { op: 'finalize', type: 'hang' }],
  ];
  test.each(postHangs)('post: %s: the save stops at the budget, post ends green with a warning and exits', async (name, fault) => {
    cache.setFaults([fault]);
    await change(`post hang ${name}\n`);
    const r = await run();
    expectGreenAndExited(r);
    expect(cache.log().some((l) => l.fault === 'hang')).toBe(true);
    expect(r.post!.durationMs).toBeLessThan(BUDGET_S * 1000 + SLACK_MS);
    expect(warnings(r).join('\n')).toMatch(/abandoned it/);
    expect(r.log).toMatch(/Layer cache not saved: /);
    expect(await registryDigest(repo, 'main')).toBe(r.outputs.digest);
    if (!fault.bytes) expect(cache.stats().openRequests).toBe(0);
  });

  test('post: a service that answers 500 to everything costs seconds, not minutes (default limits)', async () => {
    cache.setFaults((['create', 'finalize', 'lookup', 'upload', 'download'] as const).map((op) => ({ op, type: 'error', status: 500 })));
    await change('every call fails\n');
    cache.resetLog();
    const r = await run({ env: { OBC_CACHE_TIMEOUT_SECONDS: '', OBC_CACHE_BUDGET_SECONDS: '' } });
    expectGreenAndExited(r);
    expect(warnings(r).join('\n')).toMatch(/giving up on the cache service/);
    expect(r.post!.durationMs).toBeLessThan(SLACK_MS);
    // The breaker: a handful of requests in all, not five attempts of every call.
    expect(cache.log().length).toBeLessThanOrEqual(8);
    expect(await registryDigest(repo, 'main')).toBe(r.outputs.digest);
  });
});
