// Blob entries the cache service evicted while an index still refers to them: which entries the
// index names, which of them are gone, and what is left held.
import * as path from 'node:path';
import { cachePaths, entriesOf, goneEntries, withoutGone } from '../../src/cache/store.js';
import type { CacheService } from '../../src/cache/service.js';
import { blobPath } from '../../src/cache/layout.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const p = cachePaths('/runner/temp/obc', 'app');

/** A service holding `keys` (each for the exact paths a save would use); `faults` lookups fail first. */
function service(keys: Record<string, string[]>, o: { faults?: number; gaveUp?: boolean } = {}): CacheService & { lookups: string[] } {
  let faults = o.faults ?? 0;
  const lookups: string[] = [];
  return {
    lookups,
    gaveUp: o.gaveUp ?? false,
    save: async () => false,
    restore: async (paths, key, _rk, opts) => {
      expect(opts?.lookupOnly).toBe(true);
      lookups.push(key);
      if (faults > 0) return (faults--, undefined);
      const want = keys[key];
      return want && JSON.stringify(want.map((x) => blobPath(p.store, x)).sort()) === JSON.stringify([...paths].sort()) ? key : undefined;
    },
  };
}

describe('entries an index names', () => {
  test('one per key; a pack holds every digest of its pack, even those the index no longer uses', () => {
    const held = { [d('a')]: 'pack-1', [d('b')]: 'blob-b' };
    expect([...entriesOf(held, { 'pack-1': [d('a'), d('c')] })]).toEqual([
      ['pack-1', [d('a'), d('c')]],
      ['blob-b', [d('b')]],
    ]);
  });
  test('withoutGone keeps the blobs of entries still held', () => {
    expect(withoutGone({ [d('a')]: 'k1', [d('b')]: 'k2', [d('c')]: 'k1' }, new Set(['k1']))).toEqual({ [d('b')]: 'k2' });
  });
});

describe('goneEntries', () => {
  const held = { [d('a')]: 'pack-1', [d('c')]: 'pack-1', [d('b')]: 'blob-b' };
  const packs = { 'pack-1': [d('a'), d('c')] };
  test('names the entries the service no longer holds, looking each up with the paths it was saved from', async () => {
    const svc = service({ 'pack-1': [d('a'), d('c')] });
    expect([...(await goneEntries(svc, p, held, packs))]).toEqual(['blob-b']);
    expect(svc.lookups.filter((k) => k === 'pack-1')).toHaveLength(1);
  });
  test('a lookup that fails once is asked again, so a passing fault does not drop an entry', async () => {
    const svc = service({ 'pack-1': [d('a'), d('c')], 'blob-b': [d('b')] }, { faults: 1 });
    expect(await goneEntries(svc, p, held, packs)).toEqual(new Set());
  });
  test('nothing is gone when the service was given up on', async () => {
    expect(await goneEntries(service({}, { gaveUp: true }), p, held, packs)).toEqual(new Set());
  });
  test('paths are the store paths of the digests', () => {
    expect(blobPath(p.store, d('a'))).toBe(path.join(p.store, 'blobs', 'sha256', 'a'.repeat(64)));
  });
});
