import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CachePhase,
  actionsCacheService,
  cachePolicy,
  callLimit,
  classifyLine,
  demoteCacheErrors,
  muteAbandoned,
  newStats,
  withCacheRoot,
} from '../../src/cache/service.js';
import type { ServicePolicy } from '../../src/cache/service.js';
import { mapLimit } from '../../src/files.js';
import { startCacheServer, type CacheServer, type LogRecord } from '../../scripts/lib/cache-server.mjs';

describe('classifyLine: what @actions/cache says about a call', () => {
  const rows: [string, ReturnType<typeof classifyLine>][] = [
    ["::warning::You've hit a rate limit, your rate limit will reset in 42 seconds", { kind: 'rate-limit', retryAfterMs: 42_000 }],
    ['::warning::Failed to save: Rate limited: Failed request: (429) Too Many Requests', { kind: 'rate-limit', retryAfterMs: 0 }],
    ['::error::Failed to restore: Cache service responded with 503', { kind: 'fault', shown: true, message: 'Cache service responded with 503' }],
    ['::warning::Failed to save: Unable to upload', { kind: 'fault', shown: true, message: 'Unable to upload' }],
    ['Attempt 1 of 5 failed with error: Failed request: (503) Service Unavailable. Retrying request in 3000 ms...', { kind: 'fault', shown: false }],
    // A refused reservation names the key: the service holds it or another job is creating it.
    ['Failed to save: Unable to reserve cache with key k, another job may be creating this cache.', { kind: 'taken', key: 'k' }],
    [
      'Failed to save: Unable to reserve cache with key obc1-blob-sha256-ab, x, another job may be creating this cache.',
      { kind: 'taken', key: 'obc1-blob-sha256-ab, x' },
    ],
    [
      '::warning::Failed to save: Unable to reserve cache with key k. More details: cache write denied: read-only',
      { kind: 'fault', shown: true, message: 'Unable to reserve cache with key k. More details: cache write denied: read-only' },
    ],
    // Every failed reservation ends in "another job may be creating this cache"; the debug line
    // before it says whether the service refused it (409) or was never reached.
    [
      '::debug::Failed to reserve cache: Error: Failed to CreateCacheEntry: Received non-retryable error: Failed request: (409) Conflict: in progress',
      undefined,
    ],
    [
      '::debug::Failed to reserve cache: Error: Failed to CreateCacheEntry: Unable to make request: ECONNRESET',
      { kind: 'fault', shown: false, message: 'Error: Failed to CreateCacheEntry: Unable to make request: ECONNRESET' },
    ],
    ['Cache restored successfully', undefined],
  ];
  test.each(rows)('%s', (line, expected) => expect(classifyLine(line)).toEqual(expected));
});

test('a cache-service error annotation becomes a warning; other errors stay', () => {
  const text = '::error::Failed to save: boom\n::error::Dockerfile:3 bad\n';
  expect(demoteCacheErrors(text)).toBe('::warning::Layer cache: failed to save: boom\n::error::Dockerfile:3 bad\n');
});

test('what an abandoned call still writes is no annotation', () => {
  expect(muteAbandoned('::warning::Failed to restore: x\nCache Size: 1\n::error::Failed to save: y\n')).toBe(
    'Layer cache (abandoned call): Failed to restore: x\nCache Size: 1\nLayer cache (abandoned call): Failed to save: y\n',
  );
});

describe('cachePolicy: the limits from the step environment', () => {
  const rows: [Record<string, string>, number, number][] = [
    [{}, 300_000, 600_000],
    [{ OBC_CACHE_TIMEOUT_SECONDS: '2' }, 2000, 600_000],
    [{ OBC_CACHE_TIMEOUT_SECONDS: '0.5', OBC_CACHE_BUDGET_SECONDS: '3' }, 500, 3000],
    // A call never gets more than the whole phase.
    [{ OBC_CACHE_BUDGET_SECONDS: '60' }, 60_000, 60_000],
    [{ OBC_CACHE_TIMEOUT_SECONDS: 'soon', OBC_CACHE_BUDGET_SECONDS: '-1' }, 300_000, 600_000],
    [{ OBC_CACHE_TIMEOUT_SECONDS: '', OBC_CACHE_BUDGET_SECONDS: '0' }, 300_000, 600_000],
  ];
  test.each(rows)('%j', (env, callMs, budgetMs) => expect(cachePolicy(env)).toMatchObject({ callMs, budgetMs }));
});

describe('callLimit: the deadline of the next call', () => {
  const policy = { ...cachePolicy({}), callMs: 10_000 };
  const rows: [number, ReturnType<typeof callLimit>][] = [
    [60_000, { ms: 10_000, by: 'call' }],
    [10_000, { ms: 10_000, by: 'call' }],
    [9_999, { ms: 9_999, by: 'budget' }],
    [0, { ms: 0, by: 'budget' }],
  ];
  test.each(rows)('%d ms left of the budget', (left, expected) => expect(callLimit(policy, left)).toEqual(expected));
});

test('CachePhase counts the time any call is in flight, overlapping calls once', () => {
  let now = 0;
  const phase = new CachePhase({ ...cachePolicy({}), budgetMs: 10_000 }, () => now);
  const a = phase.busy();
  now = 1000;
  const b = phase.busy();
  now = 3000;
  a();
  a(); // ending twice counts once
  expect(phase.spentMs()).toBe(3000);
  now = 4000;
  b();
  now = 9000; // nothing in flight: not counted
  expect(phase.spentMs()).toBe(4000);
  const c = phase.busy();
  now = 16_000;
  expect(phase.remainingMs()).toBe(0);
  c();
  expect(phase.spentMs()).toBe(11_000);
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    running++;
    peak = Math.max(peak, running);
    await Promise.resolve();
    await Promise.resolve();
    running--;
    return x * 2;
  });
  expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
  expect(peak).toBe(3);
});

describe('calls through the real @actions/cache to the local cache service', () => {
  let root: string;
  let server: CacheServer;
  let savedEnv: NodeJS.ProcessEnv;
  let output: string[] = [];
  const realWrite = process.stdout.write;
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-service-test-'));
    fs.mkdirSync(path.join(root, 'runner-temp'));
    server = await startCacheServer({ dir: path.join(root, 'service') });
    savedEnv = { ...process.env };
    delete process.env.ACTIONS_CACHE_URL;
    Object.assign(process.env, server.env(), { RUNNER_TEMP: path.join(root, 'runner-temp') });
  });
  afterAll(async () => {
    await server.close();
    // @actions/cache may still log (removing an archive) after a test's last await: until here,
    // that goes to `output` too, not to the real stdout.
    process.stdout.write = realWrite;
    process.env = savedEnv;
    fs.rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.reset();
    output = [];
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      output.push(String(chunk));
      (rest.find((a) => typeof a === 'function') as (() => void) | undefined)?.();
      return true;
    }) as typeof process.stdout.write;
  });

  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setImmediate(r));
  };
  const summary = (records: LogRecord[]) => records.map((r) => `${r.kind}${r.part ? `/${r.part}` : ''}:${r.status}${r.fault ? `(${r.fault})` : ''}`);
  const warnings = () => output.filter((l) => l.startsWith('::warning::')).map((l) => l.trim());

  /** Runs fn with a service of a fresh phase; `dir` is a directory with one small file in it. */
  async function withService<T>(
    policy: Partial<ServicePolicy>,
    fn: (svc: Awaited<ReturnType<typeof actionsCacheService>>, dir: string, phase: CachePhase) => Promise<T>,
  ): Promise<T> {
    const phase = new CachePhase({ ...cachePolicy({}), ...policy });
    const dir = path.join(root, 'ws', crypto.randomBytes(4).toString('hex'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.txt'), crypto.randomBytes(64 * 1024));
    return withCacheRoot(path.dirname(dir), async () => {
      const svc = await actionsCacheService(path.dirname(dir), phase, newStats());
      try {
        return await fn(svc, dir, phase);
      } finally {
        svc.close();
      }
    });
  }
  /** Saves `dir` under `key` with no fault, so that a lookup hits and a download has something to send. */
  const seed = (dir: string, key: string) => withService({}, async (svc) => expect(await svc.save([dir], key)).toBe(true));

  test("zstdLevel sets the archives' zstd level (ZSTD_CLEVEL) for the service's life; the job's own ZSTD_CLEVEL wins", async () => {
    const dir = path.join(root, 'ws', `zstd-${crypto.randomBytes(4).toString('hex')}`);
    fs.mkdirSync(dir, { recursive: true });
    // Compressible, but not trivially: the levels give different sizes.
    const words = Array.from({ length: 4000 }, (_, i) => `w${(i * 7919) % 1013}x${i % 97}`);
    fs.writeFileSync(path.join(dir, 'text.txt'), Array.from({ length: 60 }, (_, i) => words.slice(i * 37).join(' ')).join('\n'));
    const sizeWith = async (opts: { zstdLevel?: number }, job?: string) =>
      withCacheRoot(path.dirname(dir), async () => {
        if (job !== undefined) process.env.ZSTD_CLEVEL = job;
        const svc = await actionsCacheService(path.dirname(dir), new CachePhase(cachePolicy({})), newStats(), opts);
        const during = process.env.ZSTD_CLEVEL;
        const key = `zstd-${crypto.randomBytes(4).toString('hex')}`;
        try {
          expect(await svc.save([dir], key)).toBe(true);
        } finally {
          svc.close();
        }
        const after = process.env.ZSTD_CLEVEL;
        delete process.env.ZSTD_CLEVEL;
        return { size: server.entries().find((e) => e.key === key)!.size, during, after };
      });
    const plain = await sizeWith({});
    const fast = await sizeWith({ zstdLevel: 1 });
    const jobs = await sizeWith({ zstdLevel: 19 }, '1');
    expect([plain.during, plain.after, fast.during, fast.after, jobs.during, jobs.after]).toEqual([undefined, undefined, '1', undefined, '1', '1']);
    expect(fast.size).toBeGreaterThan(plain.size);
    expect(jobs.size).toBe(fast.size);
  });

  const hangs: [string, object, 'restore' | 'save'][] = [
    ['lookup', { op: 'lookup', type: 'hang' }, 'restore'],
    ['download, before an answer', { op: 'download', type: 'hang' }, 'restore'],
    ['download, after 1000 bytes', { op: 'download', type: 'hang', bytes: 1000 }, 'restore'],
    ['create', { op: 'create', type: 'hang' }, 'save'],
    ['upload', { op: 'upload', type: 'hang' }, 'save'],
    ['upload, after 1000 bytes', { op: 'upload', type: 'hang', bytes: 1000 }, 'save'],
    ['finalize', { op: 'finalize', type: 'hang' }, 'save'],
  ];
  test.each(hangs)('a hung %s is abandoned at its deadline and its connection closed', async (_name, fault, kind) => {
    const key = `hang-${crypto.randomBytes(4).toString('hex')}`;
    await withService({ callMs: 300 }, async (svc, dir) => {
      if (kind === 'restore') await seed(dir, key);
      server.resetLog();
      server.setFaults([fault as never]);
      const open = server.stats().openRequests;
      const got = kind === 'restore' ? await svc.restore([dir], key, []) : await svc.save([dir], key);
      expect(got).toBe(kind === 'restore' ? undefined : false);
      // The client went away: the server saw the hung connection close (a stalled upload it sees
      // only when it closes).
      if (!(fault as { bytes?: number }).bytes || kind !== 'save') await until(() => server.stats().openRequests === open);
      const hung = server.log().filter((r) => r.fault === 'hang');
      expect(hung).toEqual([expect.objectContaining({ completed: false })]);
      expect(warnings()).toEqual([expect.stringMatching(new RegExp(`^::warning::Layer cache: ${kind} of ${key} took longer than 0.3s; abandoned it.$`))]);
      expect(svc.gaveUp).toBe(false);
    });
    // Nothing of the abandoned call reached the service later.
    server.clearFaults();
    await new Promise((r) => setTimeout(r, 0));
    expect(server.log().filter((r) => r.fault !== 'hang' && r.seq > server.log().find((x) => x.fault === 'hang')!.seq)).toEqual([]);
  });

  test('the phase budget ends a call early, and no later call of the phase reaches the service', async () => {
    await withService({ callMs: 60_000, budgetMs: 400 }, async (svc, dir, phase) => {
      server.setFaults([{ op: 'lookup', type: 'hang' }]);
      expect(await svc.restore([dir], 'budget-a', [])).toBeUndefined();
      expect(await svc.restore([dir], 'budget-b', [])).toBeUndefined();
      expect(await svc.save([dir], 'budget-c')).toBe(false);
      expect(summary(server.log())).toEqual(['lookup:0(hang)']);
      expect(svc.gaveUp).toBe(true);
      expect(phase.stopped).toMatch(/time budget of 0.4s is spent/);
      expect(warnings().join('\n')).toMatch(/restore of budget-a was still running when the cache phase's time budget of 0.4s is spent; abandoned it/);
      expect(warnings().join('\n')).toMatch(/giving up on the cache service for the rest of this step/);
    });
  });

  test('a service that answers 500 to everything: one request per call, not five, and the breaker stops the phase', async () => {
    await withService({ retryPauseMs: 10 }, async (svc, dir) => {
      server.setFaults([{ op: 'create', type: 'error', status: 500 }]);
      for (let i = 0; i < 4; i++) expect(await svc.save([dir], `failing-${i}`)).toBe(false);
      // The first call is tried once more; the third failure stops the phase.
      expect(summary(server.log())).toEqual(['create:500(error)', 'create:500(error)', 'create:500(error)']);
      expect(svc.gaveUp).toBe(true);
      expect(svc.lastFault).toBe('the cache service answered 500');
    });
  });

  test('one 503 is a blip: the call is tried once more and succeeds', async () => {
    await withService({ retryPauseMs: 10 }, async (svc, dir) => {
      server.setFaults([{ op: 'create', type: 'error', status: 503, times: 1 }]);
      expect(await svc.save([dir], `blip-${crypto.randomBytes(4).toString('hex')}`)).toBe(true);
      expect(summary(server.log())).toEqual(['create:503(error)', 'create:200', 'upload/blob:201', 'finalize:200']);
      expect(svc.gaveUp).toBe(false);
    });
  });

  test('a reservation the service refused (409) is taken by another job; one it never got is a fault', async () => {
    const key = `taken-${crypto.randomBytes(4).toString('hex')}`;
    await withService({ retryPauseMs: 10 }, async (svc, dir) => {
      server.setFaults([{ op: 'upload', type: 'hang', times: 1 }]);
      // Another job's upload of the key is in progress (it hangs); this job's create is refused.
      const other = withService({ callMs: 2000 }, (o) => o.save([dir], key));
      await until(() => server.log().some((r) => r.fault === 'hang'));
      expect(await svc.save([dir], key)).toBe(false);
      expect(svc.wasTaken?.(key)).toBe(true);
      expect(svc.gaveUp).toBe(false);
      await other;
      server.lapseReservations();
      server.setFaults([{ op: 'create', type: 'reset' }]);
      expect(await svc.save([dir], `${key}-reset`)).toBe(false);
      expect(svc.wasTaken?.(`${key}-reset`)).toBe(false);
      expect(svc.lastFault).toMatch(/ECONNRESET|socket hang up/);
    });
  });

  test('services of one phase share its breaker', async () => {
    const phase = new CachePhase({ ...cachePolicy({}), maxFaults: 1 });
    server.setFaults([{ op: 'lookup', type: 'error', status: 502 }]);
    const ws = path.join(root, 'ws');
    await withCacheRoot(ws, async () => {
      const a = await actionsCacheService(ws, phase, newStats());
      const b = await actionsCacheService(ws, phase, newStats());
      expect(await a.restore([path.join(ws, 'x')], 'shared-a', [])).toBeUndefined();
      expect(await b.restore([path.join(ws, 'x')], 'shared-b', [])).toBeUndefined();
      a.close();
      b.close();
      expect(b.gaveUp).toBe(true);
    });
    expect(summary(server.log())).toEqual(['lookup:502(error)']);
  });
});
