// Inputs that cannot be used: one-line InputError naming the input and quoting the entry.
import { describe, expect, test } from '@jest/globals';
import { planMeta, type MetaInput } from '../../src/meta/index.js';
import { InputError } from '../../src/input-error.js';
import { defaultBranchOf } from '../../src/context.js';
import { eventContext } from './helpers/context.js';

const NOW = new Date('2020-01-10T00:30:00.000Z');

function plan(input: Partial<MetaInput>) {
  const ctx = eventContext('push_dev');
  return planMeta({ images: 'user/app', tags: '', flavor: '', labels: '', annotations: '', ...input }, ctx, { now: NOW, defaultBranch: defaultBranchOf(ctx) });
}

function errorOf(input: Partial<MetaInput>): InputError {
  try {
    plan(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('tags', () => {
  test.each<[string, string]>([
    ['type=semvr,pattern={{version}}', 'tags: unknown type "semvr" in "type=semvr,pattern={{version}}"'],
    ['type=foo', 'tags: unknown type "foo" in "type=foo"'],
    ['type=Semver,pattern={{version}}', 'tags: unknown type "Semver" in "type=Semver,pattern={{version}}"'],
    ['type=ref', 'tags: missing event in "type=ref"'],
    ['type=ref,event=foo', 'tags: unknown event "foo" (expected branch, tag or pr) in "type=ref,event=foo"'],
    ['type=sha,format=foo', 'tags: unknown format "foo" (expected short or long) in "type=sha,format=foo"'],
    ['type=semver', 'tags: missing pattern in "type=semver"'],
    ['type=pep440,value=1.0', 'tags: missing pattern in "type=pep440,value=1.0"'],
    ['type=match', 'tags: missing pattern in "type=match"'],
    ['type=raw', 'tags: missing value in "type=raw"'],
    ['type=match,enable=true,pattern=v(.*),group=foo', 'tags: invalid group "foo" (expected a number) in "type=match,enable=true,pattern=v(.*),group=foo"'],
    [
      'type=match,pattern=v(.*',
      'tags: invalid pattern regular expression: Invalid regular expression: /v(.*/: Unterminated group in "type=match,pattern=v(.*"',
    ],
    [
      'type=semver,pattern={{version}},match=v(',
      'tags: invalid match regular expression: Invalid regular expression: /v(/: Unterminated group in "type=semver,pattern={{version}},match=v("',
    ],
    ['type=sha,foo=bar', 'tags: unknown attribute "foo" for type=sha (expected enable, priority, prefix, suffix, format) in "type=sha,foo=bar"'],
    [
      'type=ref,event=tag,value=x',
      'tags: unknown attribute "value" for type=ref (expected enable, priority, prefix, suffix, event) in "type=ref,event=tag,value=x"',
    ],
    ['type=edge,main', 'tags: unexpected value "main" for type=edge (expected key=value) in "type=edge,main"'],
    ['type=raw,value=x,priority=high', 'tags: invalid priority "high" (expected a number) in "type=raw,value=x,priority=high"'],
    ['type=raw,value=x,enable=yes', 'tags: invalid enable "yes" (expected true, false or an expression) in "type=raw,value=x,enable=yes"'],
    ['type=raw,value=x,enable={{branch}}', 'tags: enable rendered "dev" (expected true or false) in "type=raw,value=x,enable={{branch}}"'],
    [
      'type=raw,value={{vesion}}',
      'tags: value: unknown expression "{{vesion}}" (known: branch, tag, sha, base_ref, is_default_branch, is_not_default_branch, date, commit_date) in "type=raw,value={{vesion}}"',
    ],
    [
      'type=semver,pattern={{branch}}',
      'tags: pattern: unknown expression "{{branch}}" (known: raw, version, major, minor, patch, prerelease, build) in "type=semver,pattern={{branch}}"',
    ],
    ['type=schedule,pattern={{sha}}', 'tags: pattern: unknown expression "{{sha}}" (known: date, commit_date) in "type=schedule,pattern={{sha}}"'],
    ['type=raw,value={{date}}', `tags: value: "{{date}}" needs a format, e.g. {{date 'YYYYMMDD'}} in "type=raw,value={{date}}"`],
    [
      "type=raw,value={{date 'YYYY' zone='UTC'}}",
      `tags: value: unknown attribute "zone" for {{date}} (only tz) in "type=raw,value={{date 'YYYY' zone='UTC'}}"`,
    ],
    [
      "type=raw,value={{date 'YYYY' tz='Mars/Base'}}",
      `tags: value: unknown time zone "Mars/Base" for {{date}} in "type=raw,value={{date 'YYYY' tz='Mars/Base'}}"`,
    ],
    [
      'type=sha,prefix={{nope}}-',
      'tags: prefix: unknown expression "{{nope}}" (known: branch, tag, sha, base_ref, is_default_branch, is_not_default_branch, date, commit_date) in "type=sha,prefix={{nope}}-"',
    ],
  ])('%s', (tags, message) => {
    const err = errorOf({ tags });
    expect(err.input).toBe('tags');
    expect(err.message).toBe(message);
  });

  test('a broken expression is reported on one line', () => {
    const err = errorOf({ tags: 'type=raw,value={{#if}}' });
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^tags: value: invalid expression: Parse error on line 1: Expecting .*, got 'EOF' in "type=raw,value=\{\{#if\}\}"$/);
  });

  test('an unclosed quote is reported on one line', () => {
    const err = errorOf({ tags: 'type=sha\ntype=raw,"value=a' });
    expect(err.input).toBe('tags');
    expect(err.message).not.toContain('\n');
    expect(err.message).toBe('tags: Quote Not Closed: the parsing is finished with an opening quote at line 2 in "type=raw,"value=a"');
  });

  test('the failing rule is quoted among several', () => {
    expect(errorOf({ tags: 'type=ref,event=branch\ntype=sha,format=medium' }).message).toBe(
      'tags: unknown format "medium" (expected short or long) in "type=sha,format=medium"',
    );
  });

  test('rules are checked on every event, not only where they apply', () => {
    // a tag-only rule on a branch push still fails on its bad regex
    expect(() => plan({ tags: 'type=match,pattern=(' })).toThrow(InputError);
  });
});

describe('flavor', () => {
  test.each<[string, string]>([
    ['latest=maybe', 'flavor: invalid latest "maybe" in "latest=maybe" (expected auto, true or false)'],
    ['latest', 'flavor: expected key=value, got "latest" in "latest"'],
    ['randomstr\nlatest=auto', 'flavor: expected key=value, got "randomstr" in "randomstr"'],
    ['unknwown=foo', 'flavor: unknown attribute "unknwown" in "unknwown=foo" (expected latest, prefix, suffix, onlatest)'],
    ['onlatest=true', 'flavor: onlatest must follow prefix= or suffix= in "onlatest=true"'],
    ['prefix=dev-,onlatest=yes', 'flavor: invalid onlatest "yes" in "prefix=dev-,onlatest=yes" (expected true or false)'],
    [
      'suffix=-{{nope}}',
      'flavor: unknown expression "{{nope}}" (known: branch, tag, sha, base_ref, is_default_branch, is_not_default_branch, date, commit_date) in "suffix=-{{nope}}"',
    ],
  ])('%s', (flavor, message) => {
    const err = errorOf({ flavor });
    expect(err.input).toBe('flavor');
    expect(err.message).toBe(message);
  });

  test('an empty prefix after trimming is no prefix', () => {
    expect(plan({ flavor: 'prefix= ' }).tags).toEqual(['user/app:dev']);
  });
});

describe('images', () => {
  test.each<[string, string]>([
    ['name/foo,enable=bar', 'images: invalid enable value "bar" in "name/foo,enable=bar" (expected true or false)'],
    ['name/foo,bar=baz', 'images: unknown attribute "bar" in "name/foo,bar=baz" (expected name, enable)'],
    ['value=name/foo', 'images: unknown attribute "value" in "value=name/foo" (expected name, enable)'],
    ['name=,enable=true', 'images: empty image name in "name=,enable=true"'],
    ['name/foo,name=name/bar,enable=true', 'images: more than one name in "name/foo,name=name/bar,enable=true" (one image per line)'],
    ['user/app\norg/a,org/b', 'images: more than one name in "org/a,org/b" (one image per line)'],
    ['user/app:1.0', 'images: invalid image name "user/app:1.0" in "user/app:1.0" (give the name without tag or digest)'],
    ['user/app@sha256:abc', 'images: invalid image name "user/app@sha256:abc" in "user/app@sha256:abc" (give the name without tag or digest)'],
    ['-user/app', 'images: invalid image name "-user/app" in "-user/app"'],
    ['user//app', 'images: invalid image name "user//app" in "user//app"'],
    ['my app', 'images: invalid image name "my app" in "my app"'],
  ])('%s', (images, message) => {
    const err = errorOf({ images });
    expect(err.input).toBe('images');
    expect(err.message).toBe(message);
  });
});

describe('labels and annotations', () => {
  test('an unknown expression in labels', () => {
    const err = errorOf({ labels: 'build.ref={{refname}}' });
    expect(err.input).toBe('labels');
    expect(err.message).toBe(
      'labels: unknown expression "{{refname}}" (known: branch, tag, sha, base_ref, is_default_branch, is_not_default_branch, date, commit_date) in "build.ref={{refname}}"',
    );
  });

  test('an unknown expression in annotations', () => {
    expect(errorOf({ annotations: 'x={{nope}}' }).input).toBe('annotations');
  });

  // metadata-action drops such lines silently; here they are refused.
  test.each<[string, string, string]>([
    ['labels', 'maintainer=me\nno-equals-here', 'labels: expected KEY=VALUE, got "no-equals-here"'],
    ['labels', '=value-without-key', 'labels: expected KEY=VALUE, got "=value-without-key"'],
    ['annotations', 'just-a-word', 'annotations: expected KEY=VALUE, got "just-a-word"'],
  ])('%s: a line without "=" (or with an empty key) is refused: %j', (input, value, message) => {
    const err = errorOf({ [input]: value });
    expect(err.input).toBe(input);
    expect(err.message).toBe(message);
  });
});

describe('an error quotes a long value by a short prefix only', () => {
  const big = 'a'.repeat(100_000);
  test.each<[string, Partial<MetaInput>, RegExp]>([
    ['a 100 KB tag', { tags: `type=raw,value=${big}` }, /^tags: tag "a{60}…" is 100000 characters long \(Docker allows at most 128\)$/],
    ['a 100 KB image name', { images: big }, /^images: invalid image name "a{60}…" in "a{60}…"$/],
    ['a 100 KB image name with attributes', { images: `name=${big},enable=true` }, /^images: invalid image name "a{60}…" in "name=a{55}…"$/],
    ['a 100 KB label line without "="', { labels: big }, /^labels: expected KEY=VALUE, got "a{60}…"$/],
    ['a 100 KB broken rule', { tags: `type=nope,value=${big}` }, /^tags: unknown type "nope" in "type=nope,value=a{44}…"$/],
    ['a 100 KB flavor value', { flavor: `latest=${big}` }, /^flavor: invalid latest "a{60}…" in "latest=a{53}…" \(expected auto, true or false\)$/],
  ])('%s', (_name, input, re) => {
    const err = errorOf(input);
    expect(err.message).toMatch(re);
    expect(err.message.length).toBeLessThan(300);
  });

  test('a tag of 128 characters is fine, 129 is refused; a tag cannot start with "." or "-"', () => {
    expect(plan({ tags: `type=raw,value=${'t'.repeat(128)}` }).tagNames).toEqual(['t'.repeat(128)]);
    expect(errorOf({ tags: `type=raw,value=${'t'.repeat(129)}` }).message).toMatch(/is 129 characters long/);
    expect(errorOf({ tags: 'type=raw,value=-dash' }).message).toBe('tags: tag "-dash" starts with "-" (a Docker tag starts with a letter, digit or "_")');
    expect(errorOf({ tags: 'type=raw,value=.dot' }).message).toMatch(/^tags: tag ".dot" starts with "."/);
  });

  test('a message quoting several long values is still bounded', () => {
    const err = new InputError('tags', `"${big}" and "${big}" and ${big}`);
    expect(err.message.length).toBeLessThanOrEqual(401);
    expect(err.message.endsWith('…')).toBe(true);
  });
});

test('InputError carries the input name and starts its message with it', () => {
  const err = new InputError('tags', 'boom');
  expect(err).toBeInstanceOf(Error);
  expect(err.input).toBe('tags');
  expect(err.message).toBe('tags: boom');
  expect(err.name).toBe('InputError');
});
