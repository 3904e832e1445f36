// The secrets, secret-files and secret-envs inputs: byte-exact values, and one clear line
// naming the input for every malformed entry (never the value).
import { readInputs, parseSecrets } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { secretEnvNames } from '../../src/secret-envs.js';
import type { Secret } from '../../src/inputs.js';

function inputsWith(extra: Record<string, string>) {
  return readInputs((n) => extra[n] ?? '');
}

function values(secrets: Secret[]): [string, string][] {
  return secrets.map((s) => [s.id, s.source.kind === 'value' ? s.source.value : `<${s.source.kind}>`]);
}

describe('parseSecrets: values are byte-exact', () => {
  const rows: [string, string, [string, string][]][] = [
    ['simple', 'token=abc', [['token', 'abc']]],
    ['"=" inside the value', 'token=a=b==', [['token', 'a=b==']]],
    ['leading and trailing spaces kept', 'token=  spaced  ', [['token', '  spaced  ']]],
    ['quotes kept', `token="dq" 'sq'`, [['token', `"dq" 'sq'`]]],
    ['empty value', 'token=', [['token', '']]],
    [
      'several entries, comments and blank lines',
      'a=1\n\n# comment\nb=2\n',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    [
      'CRLF line ends are not part of values',
      'a=1\r\nb=2\r\n',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    ['spaces around the id are ignored', '  my.id_1-x =v', [['my.id_1-x', 'v']]],
    ['heredoc: several lines', 'key<<EOF\nline 1\n  line 2  \nEOF', [['key', 'line 1\n  line 2  ']]],
    ['heredoc: trailing newline via an empty last line', 'key<<EOF\nl1\n\nEOF\n', [['key', 'l1\n']]],
    ['heredoc: lines that look like entries or comments are value', 'key<<END\na=b\n# not a comment\n\nEND', [['key', 'a=b\n# not a comment\n']]],
    [
      'heredoc: closing line with spaces around',
      'key<<EOF\nv\n  EOF  \nnext=1',
      [
        ['key', 'v'],
        ['next', '1'],
      ],
    ],
    ['heredoc: empty value', 'key<<EOF\nEOF', [['key', '']]],
    [
      'heredoc then inline',
      'a<<X\n1\n2\nX\nb=3',
      [
        ['a', '1\n2'],
        ['b', '3'],
      ],
    ],
    ['"<<" inside an inline value is not a heredoc', 'a=x<<EOF', [['a', 'x<<EOF']]],
  ];
  test.each(rows)('%s', (_name, raw, want) => {
    expect(values(parseSecrets('secrets', raw))).toEqual(want);
  });
});

describe('readInputs: the three secret inputs', () => {
  test('inline, file and env secrets, in input order', () => {
    const i = inputsWith({ secrets: 'a=1', 'secret-files': 'f = ./path/to file\n# c', 'secret-envs': 'e=MY_VAR' });
    expect(i.secrets).toEqual([
      { id: 'a', source: { kind: 'value', value: '1' } },
      { id: 'f', source: { kind: 'file', path: './path/to file' } },
      { id: 'e', source: { kind: 'env', name: 'MY_VAR' } },
    ]);
  });

  test('secret-scan defaults to true and parses false', () => {
    expect(inputsWith({}).secretScan).toBe(true);
    expect(inputsWith({ 'secret-scan': 'false' }).secretScan).toBe(false);
  });

  test('secretEnvNames reads the names and never throws', () => {
    expect(secretEnvNames('a=ONE\nb=TWO')).toEqual(['ONE', 'TWO']);
    expect(secretEnvNames('broken\n# c=NOPE\nd=not-a-name\n e = SPACED ')).toEqual(['SPACED']);
  });
});

describe('malformed entries: one line naming the input, never the value', () => {
  const VALUE = 'sUp3r-s3cret-VALUE';
  const rows: [string, Record<string, string>, RegExp][] = [
    ['a secret line without "="', { secrets: VALUE }, /^secrets: expected id=value on line 1, got a line without "="/],
    ['an empty id', { secrets: `=${VALUE}` }, /^secrets: empty secret id on line 1/],
    ['an invalid id', { secrets: `bad id/${VALUE}=x` }, /^secrets: invalid secret id on line 1/],
    ['a heredoc without its closing line', { secrets: `k<<EOF\n${VALUE}\n` }, /^secrets: secret "k": no closing line "EOF" for "k<<EOF"$/],
    ['a heredoc without an id', { secrets: `<<EOF\n${VALUE}\nEOF` }, /^secrets: empty secret id before "<<" on line 1/],
    ['a duplicate id in secrets', { secrets: 'a=1\na=2' }, /^secrets: duplicate secret id "a"$/],
    ['a duplicate id across inputs', { secrets: 'a=1', 'secret-envs': 'a=X' }, /^secret-envs: duplicate secret id "a" \(already given in secrets\)$/],
    ['a secret-files line without "="', { 'secret-files': 'just/a/path' }, /^secret-files: expected id=path, got "just\/a\/path"$/],
    ['a secret-files empty id', { 'secret-files': '=p' }, /^secret-files: empty secret id in "=p"$/],
    ['a secret-files empty path', { 'secret-files': 'id=' }, /^secret-files: empty value for secret id "id"$/],
    ['a secret-envs bad variable name', { 'secret-envs': 'id=1NOPE' }, /^secret-envs: secret "id": "1NOPE" is not an environment variable name$/],
    ['a bad secret-scan value', { 'secret-scan': 'maybe' }, /^secret-scan: expected true or false, got "maybe"$/],
  ];
  test.each(rows)('%s', (_name, inp, re) => {
    let err: unknown;
    try {
      inputsWith(inp);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).toMatch(re);
    expect(msg).not.toContain('\n');
    expect(msg).not.toContain(VALUE);
  });
});
