// Inputs that escape or mislead are refused before any work, with one line that
// names the input and quotes at most a short prefix of the value.
import { describe, expect, test, beforeAll, afterAll } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { platformProblem } from '../../src/platforms.js';
import { checkBuildFiles, stagesOf, isRemoteContext } from '../../src/inputs-files.js';
import { clip, quoted, boundMessage, QUOTE_MAX, MESSAGE_MAX } from '../../src/clip.js';

const get = (extra: Record<string, string>) => (n: string) => ({ images: 'x/y', push: 'false', ...extra })[n] ?? '';

function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('platforms', () => {
  test.each([
    'linux/amd64',
    'linux/arm64',
    'linux/arm/v7',
    'linux/arm/v6',
    'linux/arm64/v8',
    'linux/386',
    'linux/ppc64le',
    'linux/s390x',
    'linux/riscv64',
    'windows/amd64',
    'Linux/AMD64',
    'linux/x86_64',
    'linux/aarch64',
    'linux/amd64/v3',
    'local',
    'darwin/arm64',
    'freebsd/amd64',
    'linux/mips64le',
    'linux/loong64',
  ])('%s is accepted', (p) => expect(platformProblem(p)).toBeUndefined());
  test.each<[string, RegExp]>([
    ['linux/notanarch', /^unknown architecture "notanarch"/],
    ['notanos/amd64', /^unknown operating system "notanos"/],
    ['linux', /^expected os\/arch or os\/arch\/variant/],
    ['amd64', /^expected os\/arch/],
    ['linux/amd64/v9', /^unknown variant "v9" for amd64/],
    ['linux/arm/v9', /^unknown variant "v9" for arm/],
    ['linux/s390x/v1', /^s390x has no variants, got "v1"/],
    ['linux//amd64', /^expected os\/arch/],
    ['linux/amd64/v2/x', /^expected os\/arch/],
  ])('%s is refused', (p, re) => expect(platformProblem(p)).toMatch(re));

  test('readInputs refuses a bad platform with one line naming the input', () => {
    expect(inputError(() => readInputs(get({ platforms: 'linux/amd64,linux/notanarch' }))).message).toBe(
      'platforms: "linux/notanarch": unknown architecture "notanarch" (a GOARCH value: amd64, arm64, arm, 386, ppc64le, s390x, riscv64, ...)',
    );
    expect(readInputs(get({ platforms: 'linux/amd64, linux/arm64\nlinux/arm/v7' })).platforms).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
  });
});

describe('target and cache-scope syntax', () => {
  test.each(['build', 'Build', 'stage-2', 'a.b_c-d', 'x'])('target %s is a stage name', (t) => expect(readInputs(get({ target: t })).target).toBe(t));
  test.each(['2stage', '-x', 'a b', '$TARGET', 'a/b', '.x'])('target %j is refused', (t) => {
    expect(inputError(() => readInputs(get({ target: t }))).message).toMatch(
      /^target: ".*" is not a stage name \(a letter, then letters, digits, "-", "_" or "."\)$/,
    );
  });
  test.each(['..', '.', '...', '/', '../..', '-', ' .. ', '\\..'])('cache-scope %j is refused', (s) => {
    expect(inputError(() => readInputs(get({ 'cache-scope': s }))).message).toMatch(/^cache-scope: ".*" has no letter or digit/);
  });
  test.each(['my scope', 'a/b', '..a', 'release-1.2'])('cache-scope %j is accepted (turned into a slug later)', (s) => {
    expect(readInputs(get({ 'cache-scope': s })).cacheScope).toBe(s);
  });
});

describe('every input error quotes at most a short prefix of the value', () => {
  const big = 'z'.repeat(100_000);
  test.each<[string, Record<string, string>]>([
    ['push', { push: big }],
    ['cache', { cache: big }],
    ['platforms', { platforms: `linux/${big}` }],
    ['target', { target: `-${big}` }],
    ['cache-scope', { 'cache-scope': '.'.repeat(100_000) }],
    ['build-args', { 'build-args': big }],
    ['secret-files', { 'secret-files': big }],
    ['driver', { driver: big }],
    ['driver-opts', { 'driver-opts': big }],
    ['buildx-version', { 'buildx-version': big }],
    ['cache-mounts-max-size', { 'cache-mounts-max-size': big }],
    ['cache-mounts-image', { 'cache-mounts-image': `a ${big}` }],
  ])('%s', (input, extra) => {
    const err = inputError(() => readInputs(get(extra)));
    expect(err.input).toBe(input);
    expect(err.message.startsWith(`${input}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(250);
    expect(err.message).toContain('…');
  });

  test('clip, quoted and boundMessage', () => {
    expect(clip('abc')).toBe('abc');
    expect(clip('a'.repeat(QUOTE_MAX))).toBe('a'.repeat(QUOTE_MAX));
    expect(clip('a'.repeat(QUOTE_MAX + 1))).toBe('a'.repeat(QUOTE_MAX) + '…');
    expect(clip('😀'.repeat(40))).toBe('😀'.repeat(30) + '…');
    expect(clip('a' + '😀'.repeat(40))).toBe('a' + '😀'.repeat(29) + '…');
    expect(quoted('a\nb')).toBe('"a\\nb"');
    expect(boundMessage('x: a\n  b')).toBe('x: a b');
    expect(boundMessage('y'.repeat(1000)).length).toBe(MESSAGE_MAX + 1);
    expect(new InputError('tags', 'q'.repeat(10_000)).message.length).toBe(MESSAGE_MAX + 1);
  });
});

describe('stagesOf', () => {
  test.each<[string, string, string[] | undefined]>([
    ['plain', 'FROM busybox\nRUN true\n', []],
    ['named, any case', 'FROM busybox AS Build\nfrom alpine as TEST\nFROM build\n', ['build', 'test']],
    [
      'flags and ARG-expanded images',
      'ARG BASE=busybox\nFROM --platform=$BUILDPLATFORM ${BASE}:1 AS deps\nFROM --platform=linux/amd64 $BASE As final\n',
      ['deps', 'final'],
    ],
    ['a continued FROM line', 'FROM busybox \\\n  AS  joined\n', ['joined']],
    ['a comment inside a continuation', 'FROM busybox \\\n# comment\n\n  AS joined\n', ['joined']],
    ['the escape directive', '# escape=`\nFROM busybox `\n  AS tick\nRUN echo \\\n', ['tick']],
    ['an ARG-expanded stage name: unknown', 'ARG N=x\nFROM busybox AS $N\n', undefined],
    ['a custom frontend: unknown', '# syntax=example.com/my/frontend:1\nFROM busybox AS a\n', undefined],
    ['the dockerfile frontend is fine', '# syntax=docker/dockerfile:1.7\nFROM busybox AS a\n', ['a']],
    ['comments and CRLF', '# A comment\r\nFROM busybox AS one\r\n# FROM x AS commented\r\n', ['one']],
  ])('%s', (_name, text, want) => expect(stagesOf(text)).toEqual(want));

  test('BUILDKIT_SYNTAX in build-args makes the stages unknown', () => {
    expect(stagesOf('FROM busybox AS a\n', [{ key: 'BUILDKIT_SYNTAX' }])).toBeUndefined();
  });

  test('remote contexts', () => {
    for (const c of ['https://github.com/acme/app.git#main', 'git@github.com:acme/app.git', '-']) expect(isRemoteContext(c)).toBe(true);
    for (const c of ['.', 'app', '/abs/dir', 'dir:with:colons']) expect(isRemoteContext(c)).toBe(false);
  });
});

describe('checkBuildFiles', () => {
  let root: string;
  let ws: string;
  let outside: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-unit-files-'));
    ws = path.join(root, 'ws');
    outside = path.join(root, 'outside');
    await fs.mkdir(path.join(ws, 'app'), { recursive: true });
    await fs.mkdir(outside);
    await fs.writeFile(path.join(ws, 'Dockerfile'), 'FROM busybox AS base\nFROM base AS Final\n');
    await fs.writeFile(path.join(ws, 'app', 'Dockerfile'), 'FROM busybox\n');
    await fs.writeFile(path.join(outside, 'Dockerfile'), 'FROM busybox\n');
    await fs.symlink(path.join(outside, 'Dockerfile'), path.join(ws, 'linked.Dockerfile'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });
  const check = (b: Partial<{ context: string; file: string; target: string }>) =>
    checkBuildFiles({ context: '.', file: '', target: '', buildArgs: [], ...b }, ws, ws);
  const fails = async (b: Partial<{ context: string; file: string; target: string }>): Promise<InputError> => {
    const err = await check(b).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  };

  test('a good context, file and target pass', async () => {
    await check({});
    await check({ target: 'final' });
    await check({ target: 'BASE' });
    await check({ context: 'app' });
    await check({ context: 'app', file: 'Dockerfile' });
    await check({ file: path.join(ws, 'app', 'Dockerfile') });
    await check({ context: 'https://github.com/acme/app.git', file: 'nope' });
  });

  test.each<[string, Partial<{ context: string; file: string; target: string }>, RegExp]>([
    ['a missing context', { context: 'missing' }, /^context: directory "missing" does not exist \(relative to ".*"\)$/],
    ['a context that is a file', { context: 'Dockerfile' }, /^context: "Dockerfile" is not a directory$/],
    ['a missing file', { file: 'missing' }, /^file: "missing" does not exist$/],
    ['no Dockerfile in the context', { context: 'app/..', file: '' }, /./],
    ['a file that is a directory', { file: 'app' }, /^file: "app" is not a file$/],
    [
      'a file outside the workspace',
      { file: '../../../../../../../../etc/hostname' },
      /^file: "(\.\.\/)+etc\/hostname" is outside the workspace ".*"; the Dockerfile must be a file of the workspace/,
    ],
    ['a symbolic link out of the workspace', { file: 'linked.Dockerfile' }, /^file: "linked.Dockerfile" is outside the workspace/],
    ['a context outside the workspace (its Dockerfile is too)', { context: '../outside' }, /^file: "..\/outside\/Dockerfile" is outside the workspace/],
    ['a target not in the Dockerfile', { target: 'tset' }, /^target: stage "tset" is not in "Dockerfile" \(its stages: base, final\)$/],
    [
      'a target with no named stage',
      { context: 'app', target: 'build' },
      /^target: stage "build" is not in "app\/Dockerfile" \(it names no stage \(FROM … AS name\)\)$/,
    ],
  ])('%s', async (name, b, re) => {
    if (name === 'no Dockerfile in the context') {
      await fs.mkdir(path.join(ws, 'empty'), { recursive: true });
      b = { context: 'empty' };
      re = /^file: no Dockerfile in the context: "empty\/Dockerfile" does not exist \(set file to the Dockerfile's path\)$/;
    }
    const err = await fails(b);
    expect(err.message).toMatch(re);
  });

  test('a long missing path is quoted by a prefix', async () => {
    const err = await fails({ file: 'd/'.repeat(50_000) + 'Dockerfile' });
    expect(err.input).toBe('file');
    expect(err.message.length).toBeLessThan(200);
  });
});
