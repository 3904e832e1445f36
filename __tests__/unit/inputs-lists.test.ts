// The one way list inputs are split, with and without `#` entries, and one-entry-a-line inputs.
import { describe, expect, test } from '@jest/globals';
import { lines, splitList } from '../../src/inputs-lists.js';

describe('splitList: newline or comma separated entries', () => {
  test.each<[string, string, string[], string[]]>([
    ['empty', '', [], []],
    ['blanks only', ' \n , \n', [], []],
    ['commas', 'linux/amd64,linux/arm64', ['linux/amd64', 'linux/arm64'], ['linux/amd64', 'linux/arm64']],
    ['newlines and commas, trimmed', ' a \n b , c\n\n', ['a', 'b', 'c'], ['a', 'b', 'c']],
    ['CRLF lines', 'a\r\nb', ['a', 'b'], ['a', 'b']],
    // platforms and builder-platforms keep a `#` entry, so their check names it; build-push-action's lists drop it.
    ['a # entry', 'a\n# note\nb', ['a', '# note', 'b'], ['a', 'b']],
    ['# after a comma', 'a, #b', ['a', '#b'], ['a']],
    ['# inside an entry', 'a#b', ['a#b'], ['a#b']],
  ])('%s', (_, raw, plain, comments) => {
    expect(splitList(raw)).toEqual(plain);
    expect(splitList(raw, { comments: true })).toEqual(comments);
  });
});

describe('lines: one entry a line', () => {
  test.each<[string, string, string[]]>([
    ['empty', '', []],
    ['trimmed, blanks and comments dropped', ' a=1 \n\n# c\n  #d\nb=2,c=3\r\n', ['a=1', 'b=2,c=3']],
    ['commas stay in the entry', 'k=v,w', ['k=v,w']],
  ])('%s', (_, raw, want) => {
    expect(lines(raw)).toEqual(want);
  });
});
