import * as path from 'node:path';
import { cachePaths } from '../../src/cache/store.js';
import { planScope, planIndexKeys, fallbackBranches, blobKey, packKey, planPacks, indexLookup, isCommitIndexKey, nextIndexKey } from '../../src/cache/keys.js';
import type { Context } from '../../src/context.js';
import { testContext } from './helpers/context.js';

const ctx = testContext;

describe('planScope', () => {
  const base = { cacheScope: '', images: ['ghcr.io/acme/app'], target: '', platforms: [], file: './Dockerfile' };
  test('cache-scope wins', () => expect(planScope({ ...base, cacheScope: 'My Scope' })).toBe('my-scope'));
  test('differs per image, target and platform set', () => {
    const a = planScope(base);
    expect(a).toMatch(/^app-[0-9a-f]{8}$/);
    expect(planScope({ ...base, images: ['ghcr.io/acme/worker'] })).not.toBe(a);
    expect(planScope({ ...base, target: 'test' })).toMatch(/^app-test-[0-9a-f]{8}$/);
    expect(planScope({ ...base, platforms: ['linux/arm64'] })).not.toBe(a);
    expect(planScope({ ...base, platforms: ['linux/arm64', 'linux/amd64'] })).toBe(planScope({ ...base, platforms: ['linux/amd64', 'linux/arm64'] }));
  });
});

describe('planScope never leaves the action directory, whatever cache-scope says', () => {
  const base = { cacheScope: '', images: ['ghcr.io/acme/app'], target: '', platforms: [], file: './Dockerfile' };
  const root = '/runner/temp/oneshot-build';
  test.each(['..', '.', '...', '../..', '../../etc', '/etc/passwd', '.hidden', '-.', '.-..', '..\\..', 'a/../../b', '..a', ' .. '])(
    'cache-scope %j',
    (cacheScope) => {
      const scope = planScope({ ...base, cacheScope });
      expect(scope).toMatch(/^[a-z0-9_][a-z0-9._-]*$/);
      expect(scope).not.toContain('/');
      for (const p of Object.values(cachePaths(root, scope))) {
        expect(p.startsWith(root + '/')).toBe(true);
        expect(path.relative(root, p).split('/')).not.toContain('..');
      }
    },
  );
  test.each([
    ['..', 'x'],
    ['.hidden', 'hidden'],
    ['a/../../b', 'a-..-..-b'],
    ['..a', 'a'],
  ])('%j is the slug %j', (cacheScope, want) => {
    expect(planScope({ ...base, cacheScope })).toBe(want);
  });
  test('an image or Dockerfile name made of dots gives a safe default scope', () => {
    expect(planScope({ ...base, images: [], file: '..' })).toMatch(/^x-[0-9a-f]{8}$/);
    expect(planScope({ ...base, images: ['..'] })).toMatch(/^x-[0-9a-f]{8}$/);
  });
});

describe('planIndexKeys', () => {
  const rows: [string, Partial<Context>, string, string[]][] = [
    ['push to main', {}, 'obc1-idx-s-main-abc123', ['obc1-idx-s-main-']],
    [
      'push to a feature branch',
      { ref: 'refs/heads/feature/x', refName: 'feature/x' },
      'obc1-idx-s-feature-x-abc123',
      ['obc1-idx-s-feature-x-', 'obc1-idx-s-main-'],
    ],
    ['tag', { ref: 'refs/tags/v1.2.3', refName: 'v1.2.3' }, 'obc1-idx-s-tag-v1.2.3-abc123', ['obc1-idx-s-tag-v1.2.3-', 'obc1-idx-s-main-']],
    [
      'pull request: head branch, then base branch',
      {
        eventName: 'pull_request',
        ref: 'refs/pull/15/merge',
        refName: '15/merge',
        headRef: 'fix/y',
        baseRef: 'develop',
        payload: { pull_request: { number: 15 }, repository: { default_branch: 'main' } },
      },
      'obc1-idx-s-pr-15-abc123',
      ['obc1-idx-s-pr-15-', 'obc1-idx-s-fix-y-', 'obc1-idx-s-develop-', 'obc1-idx-s-main-'],
    ],
  ];
  test.each(rows)('%s', (_n, over, primary, restore) => {
    expect(planIndexKeys('s', ctx(over))).toEqual({ primary, restore });
  });
  test('no default branch in the payload: only own branch', () => {
    expect(fallbackBranches(ctx({ ref: 'refs/heads/dev', payload: {} }))).toEqual(['dev']);
  });
});

describe('index keys of one commit: the primary key and its alternates', () => {
  const keys = { primary: 'obc1-idx-s-main-abc123', restore: ['obc1-idx-s-main-', 'obc1-idx-s-dev-'] };
  test('the lookup finds the newest alternate of this commit first, then the primary key, then the branches', () => {
    expect(indexLookup(keys)).toEqual({ key: 'obc1-idx-s-main-abc123-', restoreKeys: ['obc1-idx-s-main-abc123', 'obc1-idx-s-main-', 'obc1-idx-s-dev-'] });
    // Every key of this commit starts with the lookup key or is the primary key; the branch prefix finds them all.
    for (const k of ['obc1-idx-s-main-abc123', 'obc1-idx-s-main-abc123-2', 'obc1-idx-s-main-abc123-17']) {
      expect(k === keys.primary || k.startsWith(indexLookup(keys).key)).toBe(true);
      expect(k.startsWith(keys.restore[0])).toBe(true);
    }
  });
  const rows: [string | undefined, boolean, string][] = [
    [undefined, false, 'obc1-idx-s-main-abc123'],
    ['obc1-idx-s-main-abc123', true, 'obc1-idx-s-main-abc123-2'],
    ['obc1-idx-s-main-abc123-2', true, 'obc1-idx-s-main-abc123-3'],
    ['obc1-idx-s-main-abc123-41', true, 'obc1-idx-s-main-abc123-42'],
    // Not this commit: another commit, another branch, or not an alternate's form.
    ['obc1-idx-s-main-abc1234', false, 'obc1-idx-s-main-abc123'],
    ['obc1-idx-s-main-def456', false, 'obc1-idx-s-main-abc123'],
    ['obc1-idx-s-main-abc123-x', false, 'obc1-idx-s-main-abc123'],
    ['obc1-idx-s-main-abc123-', false, 'obc1-idx-s-main-abc123'],
    ['obc1-idx-s-main-abc123-1234567', false, 'obc1-idx-s-main-abc123'],
  ];
  test.each(rows)('held %s: this commit %s, next key %s', (held, mine, next) => {
    expect(isCommitIndexKey(keys, held)).toBe(mine);
    expect(nextIndexKey(keys, held)).toBe(next);
  });
});

describe('blob entries', () => {
  test('keys derive from digests', () => {
    expect(blobKey('sha256:abcd')).toBe('obc1-blob-sha256-abcd');
    expect(packKey(['sha256:b', 'sha256:a'])).toBe(packKey(['sha256:a', 'sha256:b']));
  });
  test('few blobs: one entry each', () => {
    expect(
      planPacks(
        [
          { digest: 'sha256:a', size: 5 },
          { digest: 'sha256:b', size: 7 },
        ],
        3,
      ),
    ).toEqual([
      { key: 'obc1-blob-sha256-a', digests: ['sha256:a'] },
      { key: 'obc1-blob-sha256-b', digests: ['sha256:b'] },
    ]);
  });
  test('many blobs: at most the limit of entries, balanced by size', () => {
    const blobs = [9, 8, 7, 3, 2, 1].map((size, i) => ({ digest: `sha256:${i}`, size }));
    const packs = planPacks(blobs, 3);
    expect(packs).toHaveLength(3);
    expect(packs.flatMap((p) => p.digests).sort()).toEqual(blobs.map((b) => b.digest).sort());
    const sizes = packs.map((p) => p.digests.reduce((s, d) => s + blobs.find((b) => b.digest === d)!.size, 0)).sort();
    expect(sizes).toEqual([10, 10, 10]);
  });
});
