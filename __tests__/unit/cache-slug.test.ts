// One slug for the cache keys (keys.ts) and the cache mounts (mounts-plan.ts): the two callers
// keep the exact slugs they had, since the slugs are part of cache keys and paths that earlier runs
// saved. The table is what each gave before they shared one function.
import { slug } from '../../src/cache/keys.js';
import { mountSlug } from '../../src/cache/mounts-plan.js';

/** [input, max, key slug, mount slug] */
const TABLE: [string, number, string, string][] = [
  ['My App', 40, 'my-app', 'my-app'],
  ['feature/Login_Page', 60, 'feature-login_page', 'feature-login_page'],
  ['..hidden', 40, 'hidden', 'hidden'],
  ['-.-x', 40, 'x', 'x'],
  ['release-1.2.', 40, 'release-1.2.', 'release-1.2'],
  ['trailing---', 40, 'trailing', 'trailing'],
  ['a.-', 40, 'a.', 'a'],
  ['/root/.cache/go-build', 32, 'root-.cache-go-build', 'root-.cache-go-build'],
  ['abcdefghij-klmnop', 11, 'abcdefghij-', 'abcdefghij'],
  ['abcdefghi.-klmnop', 11, 'abcdefghi.-', 'abcdefghi'],
  ['', 40, 'x', 'mount'],
  ['---', 40, 'x', 'mount'],
  ['..', 40, 'x', 'mount'],
  ['Ünïcödé', 40, 'n-c-d', 'n-c-d'],
  ['a'.repeat(50), 40, 'a'.repeat(40), 'a'.repeat(40)],
];

describe('slug', () => {
  test.each(TABLE)('%j (max %d): key slug %j, mount slug %j', (input, max, key, mount) => {
    expect(slug(input, max)).toBe(key);
    expect(slug(input, max, { trimEnd: true, empty: 'mount' })).toBe(mount);
  });

  test('the default length is 40, the default for an empty slug "x"', () => {
    expect(slug('b'.repeat(45))).toBe('b'.repeat(40));
    expect(slug('///')).toBe('x');
  });

  test.each<[string, string]>([
    ['/root/.cache/go-build', 'root-.cache-go-build-'],
    ['/var/cache/apt/', 'var-cache-apt-'],
    ['x.', 'x-'],
    ['-', 'mount-'],
  ])('mountSlug(%j) starts with %j and ends with 8 hex digits of its hash', (id, start) => {
    const s = mountSlug(id);
    expect(s.startsWith(start)).toBe(true);
    expect(s.slice(start.length)).toMatch(/^[0-9a-f]{8}$/);
  });
});
