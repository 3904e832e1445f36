// Pure parts of the cancellation (src/interrupt.ts) and of the docker-driver push (src/phases/build.ts).
import { descendantsOf, graceFor, parentFromStat } from '../../src/interrupt.js';
import { localImageName, pushedDigest } from '../../src/build-mode.js';

describe('descendantsOf', () => {
  const table: [number, number][] = [
    [1, 0],
    [10, 1],
    [11, 10],
    [12, 11],
    [13, 11],
    [20, 1],
    [21, 20],
    [14, 12],
  ];
  test.each([
    ['children and grandchildren, breadth first', 10, [11, 12, 13, 14]],
    ['another tree is not included', 20, [21]],
    ['a leaf has none', 14, []],
    ['an unknown pid has none', 99, []],
  ])('%s', (_n, root, want) => expect(descendantsOf(root as number, table)).toEqual(want));
  test('a cycle in a stale table does not loop', () => {
    expect(
      descendantsOf(5, [
        [6, 5],
        [7, 6],
        [6, 7],
      ]),
    ).toEqual([6, 7]);
  });
});

describe('parentFromStat', () => {
  test.each([
    ['plain', '123 (docker) S 45 123 123 0 -1', 45],
    ['a name with spaces and parentheses', '77 (a b) (c)) R 9 77 77 0', 9],
    ['garbage', 'nothing here', undefined],
  ])('%s', (_n, stat, want) => expect(parentFromStat(stat as string)).toBe(want));
});

test('graceFor leaves room before the runner escalates (SIGINT: 7.5 s, SIGTERM: 2.5 s)', () => {
  expect(graceFor('SIGINT')).toBeLessThan(7500);
  expect(graceFor('SIGTERM')).toBeLessThan(2500);
});

describe('localImageName', () => {
  test('has no registry (docker push would go to docker.io), differs per call', () => {
    const a = localImageName();
    expect(a).toMatch(/^oneshot-build-local\/[0-9a-f]{16}:build$/);
    expect(localImageName()).not.toBe(a);
    expect(localImageName('x1')).toBe('oneshot-build-local/x1:build');
  });
});

describe('pushedDigest', () => {
  const d = `sha256:${'ab'.repeat(32)}`;
  test.each([
    ['docker push output', `abc: Pushed\nmain: digest: ${d} size: 855\n`, d],
    ['no digest line', 'error', ''],
  ])('%s', (_n, out, want) => expect(pushedDigest(out)).toBe(want));
});
