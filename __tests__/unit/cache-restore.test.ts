// The restore phase (main) and the save phase (post) of the layer cache, where they need no cache
// service: the restore never writes the plan, hands what post needs to the state keeper, and
// returns the build's cache arguments and the summary's cache part; the save says why it saved
// nothing.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { restorePhase } from '../../src/phases/restore.js';
import { saveCachePhase } from '../../src/phases/save.js';
import { newCachePhase } from '../../src/cache/service.js';
import { cachePaths } from '../../src/cache/store.js';
import { planIndexKeys } from '../../src/cache/keys.js';
import { stateKeeper } from '../../src/state.js';
import type { PostState } from '../../src/state.js';
import type { RunPlan } from '../../src/plan.js';
import { testContext } from './helpers/context.js';

let out: string[] = [];
const env = { ...process.env };
beforeEach(() => {
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  delete process.env.ACTIONS_RESULTS_URL;
  delete process.env.ACTIONS_CACHE_URL;
});
afterEach(() => {
  jest.restoreAllMocks();
  process.env = { ...env };
});

async function planWith(saveCache: boolean): Promise<Pick<RunPlan, 'cache' | 'decisions' | 'mounts'>> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-restore-'));
  const plan = {
    cache: { scope: 'app', keys: planIndexKeys('app', testContext()), paths: cachePaths(root, 'app') },
    decisions: { push: false, pushReason: 'x', saveCache, saveReason: saveCache ? 'cache-save: auto' : 'cache-save: false' },
  };
  return deepFreeze(plan);
}
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
const initial = (): PostState => ({ version: 1, buildSucceeded: false, loggedIn: [] });

describe('restorePhase', () => {
  test('no layer cache in the plan: disabled, no arguments, nothing for the state or the summary', async () => {
    const saves: PostState[] = [];
    const r = await restorePhase(
      { decisions: { push: false, pushReason: '', saveCache: true, saveReason: '' } },
      stateKeeper(initial(), (s) => saves.push(s)),
      { mode: 'auto', access: { lazy: true, form: 'index' } },
    );
    expect(r.session.hit).toBe('disabled');
    expect(r.session.args).toEqual({});
    expect(r.cache).toBeUndefined();
    expect(await r.session.recover()).toBeUndefined();
    expect(await r.session.close()).toBeUndefined();
    expect(saves).toEqual([]);
  });

  test('no cache service: a miss, the plan untouched, the state says post saves nothing', async () => {
    const plan = await planWith(true);
    const saves: PostState[] = [];
    const keeper = stateKeeper(initial(), (s) => saves.push(s));
    const r = await restorePhase(plan, keeper, { mode: 'auto', access: { lazy: true, form: 'index' } });
    expect(r.session).toMatchObject({ hit: 'miss', args: {} });
    expect(r.cache).toEqual({
      hit: 'miss',
      bytesRestored: 0,
      entriesRestored: 0,
      restoreMs: 0,
      saveReason: undefined,
      coldBuildMs: undefined,
      unchanged: undefined,
    });
    expect(saves).toHaveLength(1);
    expect(keeper.state.cache).toMatchObject({ save: false, scope: 'app', keys: plan.cache!.keys, paths: plan.cache!.paths, held: {} });
    expect(out.join('')).toMatch(/the Actions cache service is not available to this step/);
  });

  test('a builder that can use no layer cache: the build gets no cache export, and the reason is the save reason', async () => {
    const plan = await planWith(true);
    const keeper = stateKeeper(initial(), () => undefined);
    const r = await restorePhase(plan, keeper, { mode: 'auto', access: { lazy: false, off: 'the classic store takes no cache', form: 'index' } });
    expect(r.session.args).toEqual({ cacheTo: undefined, cacheExportDir: undefined });
    expect(Object.keys(r.session.args).sort()).toEqual(['cacheExportDir', 'cacheTo']);
    expect(r.cache).toMatchObject({ hit: 'miss', saveReason: 'the classic store takes no cache' });
    expect(keeper.state.cache).toMatchObject({ save: false, saveSkipReason: 'the classic store takes no cache' });
    expect(out.join('')).toMatch(/Layer cache will not be saved \(the classic store takes no cache\)/);
  });

  test('the plan decided not to save: its reason goes to the state and the summary', async () => {
    const keeper = stateKeeper(initial(), () => undefined);
    const r = await restorePhase(await planWith(false), keeper, { mode: 'eager', access: { lazy: false, form: 'index' } });
    expect(r.cache?.saveReason).toBe('cache-save: false');
    expect(keeper.state.cache?.saveSkipReason).toBe('cache-save: false');
  });
});

describe('saveCachePhase', () => {
  const cache = async (save: boolean): Promise<NonNullable<PostState['cache']>> => {
    const p = await planWith(save);
    return { save, saveSkipReason: save ? undefined : 'cache-save: false', scope: 'app', keys: p.cache!.keys, paths: p.cache!.paths, held: {} };
  };
  test('no layer cache: nothing to report', async () => {
    expect(await saveCachePhase(initial(), newCachePhase())).toBeUndefined();
  });
  test.each<[string, Partial<PostState>, boolean, string]>([
    ['cancelled', { cancelled: 'SIGINT', buildSucceeded: true }, true, 'the run was cancelled'],
    ['failed', { buildSucceeded: false }, true, 'the build did not succeed'],
    ['not to be saved', { buildSucceeded: true }, false, 'cache-save: false'],
  ])('a run %s: not saved, and the summary says why', async (_what, s, save, reason) => {
    const r = await saveCachePhase({ ...initial(), ...s, cache: await cache(save) }, newCachePhase());
    expect(r).toEqual({ saved: false, entriesSaved: 0, bytesSaved: 0, ms: 0, reason });
  });
});
