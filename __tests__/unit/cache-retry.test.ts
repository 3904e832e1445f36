// The retries of a lazy build whose cached blobs the service could not deliver: when it retries,
// what it offers again, and when it pulls base images first.
import { jest } from '@jest/globals';
import { retryPlanner } from '../../src/phases/restore.js';
import type { RetryOptions } from '../../src/phases/restore.js';
import type { CacheImage } from '../../src/cache/layout.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const BASE = D('b');
const DEPS = D('d');
const REF = `docker.io/library/busybox:latest@${D('9')}`;
const LOG = `#4 [deps 1/2] FROM ${REF}\n#4 DONE 0.1s\nERROR: failed to fetch ${BASE}`;

let out: string[] = [];
beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
});
afterEach(() => jest.restoreAllMocks());

function setup(failed: string[], o: { bases?: string[]; pull?: boolean | 'none' } = {}) {
  const offers: (string[] | undefined)[] = [];
  const reofferedWith: string[][] = [];
  const lz = {
    failed: new Set(failed),
    bases: new Set(o.bases ?? []),
    checkHeld: async () => 0,
    // The offer names the blobs assumed held, so a test sees what was asked for.
    reoffer: (assume?: ReadonlySet<string>) => {
      reofferedWith.push([...(assume ?? [])]);
      return { config: { layers: [], records: [] }, descriptors: {}, assumed: [...(assume ?? [])] } as unknown as CacheImage;
    },
  };
  const proxy = {
    stats: { fetches: 0, fetchFailures: [], notHeld: [] as string[], uploads: 0, bytesUploaded: 0, unauthorized: 0, rewritesRefused: 0 },
    cacheFrom: 'type=registry,ref=127.0.0.1:1/c:import',
    offer: (img: CacheImage | undefined) => offers.push(img && (img as unknown as { assumed: string[] }).assumed),
    rearmExport: jest.fn(),
  };
  const pulls: string[][] = [];
  let retries = 0;
  const opts: RetryOptions = {
    store: '/nonexistent',
    onRetry: () => retries++,
    ...(o.pull === 'none' ? {} : { pull: async (refs: string[]) => (pulls.push(refs), o.pull !== false) }),
  };
  const recover = retryPlanner(lz, proxy, opts);
  return { recover, offers, reofferedWith, pulls, proxy, retries: () => retries, rearms: () => proxy.rearmExport.mock.calls.length };
}

describe('retryPlanner', () => {
  test("no blob failed: the failure is not the cache's, no retry", async () => {
    const s = setup([]);
    expect(await s.recover(LOG)).toBeUndefined();
    expect(s.offers).toEqual([]);
    expect(s.retries()).toBe(0);
  });

  test('a failed step layer: one retry without it, no pull, and no second retry', async () => {
    const s = setup([DEPS], { bases: [BASE] });
    expect(await s.recover(LOG)).toEqual({ cacheFrom: 'type=registry,ref=127.0.0.1:1/c:import' });
    expect(s.offers).toEqual([[]]);
    expect(s.pulls).toEqual([]);
    expect([s.retries(), s.rearms()]).toEqual([1, 1]);
    expect(out.join('')).toMatch(/::warning::Layer cache: 1 cached blob\(s\) could not be fetched during the build; building again without them\./);
    expect(await s.recover(LOG)).toBeUndefined();
    expect(s.retries()).toBe(1);
  });

  test('a failed base layer: the builder pulls the images the log names, and the retry still offers the base', async () => {
    const s = setup([BASE, DEPS], { bases: [BASE] });
    expect(await s.recover(LOG)).toEqual({ cacheFrom: 'type=registry,ref=127.0.0.1:1/c:import' });
    expect(s.pulls).toEqual([[REF]]);
    expect(s.offers).toEqual([[BASE]]);
    expect(out.join('')).toContain(
      `Layer cache: 1 lost blob(s) are base image layers; the builder pulled ${REF} again, so the steps cached on them are still offered.`,
    );
  });

  test('the pull fails: the retry goes without the base', async () => {
    const s = setup([BASE], { bases: [BASE], pull: false });
    await s.recover(LOG);
    expect(s.pulls).toEqual([[REF]]);
    expect(s.offers).toEqual([[]]);
    expect(out.join('')).not.toMatch(/the builder pulled/);
  });

  test.each([
    ['no pull function', 'none' as const, LOG],
    ['no pinned FROM in the log', true, 'ERROR: failed'],
  ])('%s: no pull, the retry goes without the base', async (_n, pull, log) => {
    const s = setup([BASE], { bases: [BASE], pull });
    await s.recover(log);
    expect(s.pulls).toEqual([]);
    expect(s.offers).toEqual([[]]);
  });

  test('after the pull the builder asks for the base anyway: a second retry without it, then none', async () => {
    const s = setup([BASE], { bases: [BASE] });
    await s.recover(LOG);
    s.proxy.stats.notHeld.push(BASE);
    expect(await s.recover('ERROR: not found')).toEqual({ cacheFrom: 'type=registry,ref=127.0.0.1:1/c:import' });
    expect(s.offers).toEqual([[BASE], []]);
    expect(out.join('')).toMatch(
      /::warning::Layer cache: the builder asked the cache for the 1 lost base image layer\(s\) after all; building again without them\./,
    );
    expect(await s.recover(LOG)).toBeUndefined();
    expect(s.retries()).toBe(2);
  });

  test('after the pull the build fails for another reason: no second retry', async () => {
    const s = setup([BASE], { bases: [BASE] });
    s.proxy.stats.notHeld.push(BASE); // asked before the retry: does not count
    await s.recover(LOG);
    expect(await s.recover('ERROR: process "/bin/sh -c false" did not complete successfully')).toBeUndefined();
    expect(s.offers).toEqual([[BASE]]);
  });

  test('the retried build names the base digest in its error: a second retry', async () => {
    const s = setup([BASE], { bases: [BASE] });
    await s.recover(LOG);
    expect(await s.recover(`ERROR: failed to get ${BASE}`)).toBeDefined();
    expect(s.offers).toEqual([[BASE], []]);
  });
});
