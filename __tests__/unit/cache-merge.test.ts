import { readFileSync } from 'node:fs';
import { baseLayerBlobs, blobsOf, indexVerdict, mergeConfigs, pruneToPresent, recordsWithResults, referencedBlobs } from '../../src/cache/merge.js';
import type { CacheConfig } from '../../src/cache/layout.js';

// Real cache configs exported by buildx 0.13 / BuildKit (Docker 26.1) for a three-stage Dockerfile:
// a cold build, the third fully cached rebuild (eroded: results lost), and a build after a change
// in src/ (two records change digest).
const load = (name: string): CacheConfig => JSON.parse(readFileSync(new URL(`../fixtures/cache/${name}.json`, import.meta.url), 'utf8')).config;
const cold = load('cold');
const w3 = load('w3');
const chg = load('chg');

const DEPS_BLOB = 'sha256:ef9455c43af46cdcc08752166ad52ae393b38cc6ac4fa1785ca343da8b5b5414';

describe('real exports', () => {
  test('a fully cached rebuild exports the same records but fewer results (erosion)', () => {
    expect(new Set(w3.records.map((r) => r.digest))).toEqual(new Set(cold.records.map((r) => r.digest)));
    expect(recordsWithResults(w3).size).toBe(3);
    expect(recordsWithResults(cold).size).toBe(6);
  });

  test('a missing parent means layer 0 (Go omitempty), -1 means none', () => {
    // cold: layer 6 (ef9455) has parent 2 in the file; w3 layer 3 has parent 1.
    const chain = (c: CacheConfig, i: number) => {
      const out: string[] = [];
      for (let n = i; n >= 0; n = c.layers[n].parent ?? 0) out.push(c.layers[n].blob.slice(7, 13));
      return out;
    };
    const withMissing: CacheConfig = {
      layers: [{ blob: 'sha256:aa', parent: -1 }, { blob: 'sha256:bb' }],
      records: [{ digest: 'sha256:r', layers: [{ layer: 1 }] }],
    };
    expect(chain(withMissing, 1)).toEqual(['bb', 'aa']);
    expect([...referencedBlobs(withMissing)]).toEqual(['sha256:bb', 'sha256:aa']);
  });
});

describe('mergeConfigs', () => {
  const all = new Set([...blobsOf(cold), ...blobsOf(chg)]);

  test('merging an eroded export with the restored cache gets every result back', () => {
    const m = mergeConfigs(w3, cold, all);
    expect(recordsWithResults(m)).toEqual(recordsWithResults(cold));
    expect(referencedBlobs(m)).toEqual(referencedBlobs(cold));
    expect(m.records.map((r) => r.digest)).toEqual(w3.records.map((r) => r.digest));
  });

  test('after a change, stale records of the restored cache are dropped, unchanged ones keep their results', () => {
    const m = mergeConfigs(chg, cold, all);
    const chgDigests = new Set(chg.records.map((r) => r.digest));
    expect(new Set(m.records.map((r) => r.digest))).toEqual(chgDigests);
    const staleOnly = cold.records.filter((r) => !chgDigests.has(r.digest));
    expect(staleOnly).toHaveLength(2);
    expect(referencedBlobs(m).has(DEPS_BLOB)).toBe(true);
    // The old src layer (d772e9) is no longer referenced: the cache does not grow.
    expect([...referencedBlobs(m)].some((b) => b.startsWith('sha256:d772e9'))).toBe(false);
  });

  test('links are renumbered consistently: every link names a record with the same digest as before', () => {
    const m = mergeConfigs(w3, cold, all);
    const before = new Map<string, Set<string>>();
    for (const r of cold.records) before.set(r.digest, new Set((r.inputs ?? []).flat().map((i) => `${i.selector ?? ''}@${cold.records[i.link].digest}`)));
    for (const r of m.records) {
      const after = new Set((r.inputs ?? []).flat().map((i) => `${i.selector ?? ''}@${m.records[i.link].digest}`));
      expect(after).toEqual(before.get(r.digest));
    }
  });

  test('every layer index and parent is in range and parents come before children', () => {
    const m = mergeConfigs(chg, cold, all);
    m.layers.forEach((l, i) => {
      expect(l.parent).toBeDefined();
      expect(l.parent!).toBeLessThan(i);
    });
    for (const r of m.records) for (const res of r.layers ?? []) expect(res.layer).toBeLessThan(m.layers.length);
  });

  test('merging is stable: merging the result again changes nothing', () => {
    const m = mergeConfigs(w3, cold, all);
    expect(mergeConfigs(m, cold, all)).toEqual(m);
  });
});

describe('pruneToPresent', () => {
  test('drops results whose layer chain misses a blob, keeps records', () => {
    const present = new Set([...blobsOf(cold)].filter((b) => b !== DEPS_BLOB));
    const p = pruneToPresent(cold, present);
    expect(p.records).toHaveLength(cold.records.length);
    expect(referencedBlobs(p).has(DEPS_BLOB)).toBe(false);
    // Only the final stage's COPY (on the base layer) and the secret RUN's empty layer survive: every
    // other result sits on a chain through the dependency layer (the COPY --from=deps reuses it).
    expect(recordsWithResults(p).size).toBe(2);
  });

  test('nothing present: no layers, no results', () => {
    const p = pruneToPresent(cold, new Set());
    expect(p.layers).toEqual([]);
    expect(recordsWithResults(p).size).toBe(0);
  });
});

describe('indexVerdict: an index is never saved worse than what it would replace', () => {
  const all = blobsOf(cold);
  const pruned = pruneToPresent(cold, new Set([...all].filter((b) => b !== DEPS_BLOB)));
  const empty = pruneToPresent(cold, new Set());
  const rows: [string, CacheConfig, CacheConfig | undefined, CacheConfig | undefined, RegExp | undefined][] = [
    ['a full index, nothing restored or held', cold, undefined, undefined, undefined],
    ['a full index over a restored one that served less', cold, pruned, undefined, undefined],
    ['no usable layer (every blob lost)', empty, undefined, undefined, /no usable layer/],
    ['fewer steps than the restored cache served', pruned, cold, undefined, /fewer steps \(2\) than the one restored \(\d+\)/],
    ['the service holds an index of this commit that serves every step', pruned, undefined, cold, /already holds an index of this commit/],
    ['the same index again', cold, undefined, cold, /already holds an index of this commit/],
    ['more than the held index serves', cold, undefined, pruned, undefined],
    ['the held index serves nothing', pruned, undefined, empty, undefined],
  ];
  test.each(rows)('%s', (_name, candidate, floor, held, refused) => {
    const v = indexVerdict(candidate, floor, held);
    if (refused) expect(v).toMatch(refused);
    else expect(v).toBeUndefined();
  });
});

describe('baseLayerBlobs', () => {
  test('a real export: the busybox layer is the one no step made', () => {
    expect(baseLayerBlobs(cold)).toEqual(new Set(['sha256:d1ccc6a1ecfe3ab93ad5a3abbdb329ca87f3d5af8b55951f7f2af735568feb19']));
  });

  const L = (b: string, parent?: number) => ({ blob: `sha256:${b}`, parent });
  test.each<[string, CacheConfig, string[]]>([
    [
      'a FROM record has no inputs: its layer is a base',
      {
        layers: [L('base', -1), L('step', 0)],
        records: [
          { digest: 'r0', layers: [{ layer: 0 }] },
          { digest: 'r1', inputs: [[{ selector: '', link: 0 }]], layers: [{ layer: 1 }] },
        ],
      },
      ['sha256:base'],
    ],
    [
      'a layer no record names is a base',
      { layers: [L('base', -1), L('step', 0)], records: [{ digest: 'r1', inputs: [[{ selector: '', link: 0 }]], layers: [{ layer: 1 }] }] },
      ['sha256:base'],
    ],
    [
      'a step layer that also sits below another chain is not',
      { layers: [L('base', -1), L('step', 0), L('step', -1)], records: [{ digest: 'r1', inputs: [[{ selector: '', link: 0 }]], layers: [{ layer: 1 }] }] },
      ['sha256:base'],
    ],
    [
      'a layer made through a chain result is not',
      { layers: [L('base', -1), L('top', 0)], records: [{ digest: 'r1', inputs: [[{ selector: '', link: 0 }]], chains: [{ layers: [{ layer: 1 }] }] }] },
      ['sha256:base'],
    ],
    [
      'a missing layer index means layer 0',
      { layers: [L('first', -1), L('base', -1)], records: [{ digest: 'r1', inputs: [[{ selector: '', link: 0 }]], layers: [{} as { layer: number }] }] },
      ['sha256:base'],
    ],
    ['nothing', { layers: [], records: [] }, []],
  ])('%s', (_n, config, bases) => {
    expect([...baseLayerBlobs(config)]).toEqual(bases);
  });
});
