// Cache mounts: parsing of the cache-mounts inputs, key planning, the helper builds'
// Dockerfiles and command lines, and the content hash of an exported mount.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseCacheMounts, parseSize, parseImage, cleanPath } from '../../src/cache/mounts-input.js';
import { planMountKeys, planMounts, mountSlug, saveKey, injectDockerfile, extractDockerfile, helperArgv } from '../../src/cache/mounts-plan.js';
import { hashTar, normalizeName } from '../../src/cache/mounts-hash.js';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { planRun } from '../../src/plan.js';
import type { Context } from '../../src/context.js';
import { testContext } from './helpers/context.js';

const ctx = testContext;

describe('parseCacheMounts', () => {
  const rows: [string, string, { id: string; target?: string }[]][] = [
    ['empty', '', []],
    ['a target path: the id is the path', '/root/.cache/pip', [{ id: '/root/.cache/pip', target: '/root/.cache/pip' }]],
    ['the target path is cleaned as BuildKit does', '/root//.cache/go-build/', [{ id: '/root/.cache/go-build', target: '/root//.cache/go-build/' }]],
    [
      'a relative target stays relative (BuildKit does the same for the id)',
      'node_modules/.cache',
      [{ id: 'node_modules/.cache', target: 'node_modules/.cache' }],
    ],
    ['id and target', 'id=npm,target=/root/.npm', [{ id: 'npm', target: '/root/.npm' }]],
    ['target= alone', 'target=/var/cache/apt/', [{ id: '/var/cache/apt', target: '/var/cache/apt/' }]],
    [
      'dst and destination are target',
      'dst=/a\ndestination=/b',
      [
        { id: '/a', target: '/a' },
        { id: '/b', target: '/b' },
      ],
    ],
    ['id alone', 'id=gomod', [{ id: 'gomod' }]],
    [
      'a pasted --mount spec: type, sharing, uid, gid, mode ignored',
      'type=cache,target=/go/pkg/mod,sharing=locked,uid=1000,gid=1000,mode=0755',
      [{ id: '/go/pkg/mod', target: '/go/pkg/mod' }],
    ],
    ['id given: the target does not change it', 'id=x,target=/somewhere/else', [{ id: 'x', target: '/somewhere/else' }]],
    [
      'several lines, comments, blank lines, CRLF, spaces',
      '  /a  \r\n\n# a comment\n id = b , target = /b \r\n',
      [
        { id: '/a', target: '/a' },
        { id: 'b', target: '/b' },
      ],
    ],
    ['keys are case-insensitive', 'ID=v,Target=/t', [{ id: 'v', target: '/t' }]],
  ];
  test.each(rows)('%s', (_n, raw, want) => {
    expect(parseCacheMounts(raw)).toEqual(want);
  });

  const bad: [string, string, string][] = [
    ['unknown option', 'id=a,bogus=1', 'cache-mounts: unknown option "bogus" in "id=a,bogus=1"'],
    ['not a cache mount', 'type=bind,target=/x', 'cache-mounts: type=bind: only type=cache mounts can be kept in "type=bind,target=/x"'],
    ['from another stage', 'target=/x,from=deps', 'cache-mounts: "from" is not supported'],
    ['no id, no target', 'sharing=locked', 'cache-mounts: no id and no target in "sharing=locked"'],
    ['empty id', 'id=,target=/x', 'cache-mounts: empty id in "id=,target=/x"'],
    ['id twice', 'id=a,id=b', 'cache-mounts: "id" given twice in "id=a,id=b"'],
    ['empty option', 'id=a,,target=/x', 'cache-mounts: empty option in "id=a,,target=/x"'],
    ['a comma in a bare path', '/a,/b', 'cache-mounts: a target path cannot contain ","'],
    ['a space in the id', 'id=a b', 'cache-mounts: the mount id "a b" contains a space'],
    ['a $ in the id', 'id=$HOME/x', 'cache-mounts: the mount id "$HOME/x" contains'],
    ['target /', '/', 'cache-mounts: "/" is not a valid cache mount target in "/"'],
    ['the same id twice', '/root/.npm\nid=/root/.npm', 'cache-mounts: mount id "/root/.npm" is given twice ("/root/.npm" and "id=/root/.npm")'],
    ['too many', Array.from({ length: 11 }, (_, i) => `/c${i}`).join('\n'), 'cache-mounts: 11 mounts given; at most 10 are kept'],
  ];
  test.each(bad)('bad: %s', (_n, raw, msg) => {
    let err: unknown;
    try {
      parseCacheMounts(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const m = (err as Error).message;
    expect(m.startsWith(msg)).toBe(true);
    expect(m).not.toContain('\n');
  });

  test('cleanPath matches Go path.Clean', () => {
    expect([cleanPath('/a/b/../c/'), cleanPath('a/./b'), cleanPath('/'), cleanPath('//x//'), cleanPath('')]).toEqual(['/a/c', 'a/b', '/', '/x', '.']);
  });
});

describe('parseSize and parseImage', () => {
  const sizes: [string, number][] = [
    ['', 2 * 1024 ** 3],
    ['1024', 1024],
    ['100b', 100],
    ['1k', 1024],
    ['500m', 500 * 1024 ** 2],
    ['500MiB', 500 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['2GB', 2 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    [' 1 t ', 1024 ** 4],
  ];
  test.each(sizes)('size %p', (raw, bytes) => expect(parseSize(raw)).toBe(bytes));
  test.each(['0', 'big', '-1g', '2x', '2ib', '1e3'])('bad size %p', (raw) => {
    expect(() => parseSize(raw)).toThrow(`cache-mounts-max-size: expected a size such as 500m or 2g, got "${raw}"`);
  });
  test('image', () => {
    expect(parseImage('')).toBe('busybox:latest');
    expect(parseImage(' ghcr.io/acme/tools:1@sha256:abcd ')).toBe('ghcr.io/acme/tools:1@sha256:abcd');
    expect(() => parseImage('busybox latest')).toThrow('cache-mounts-image: "busybox latest" is not an image reference');
  });
});

describe('readInputs and planRun', () => {
  const get = (extra: Record<string, string>) => (n: string) => ({ images: 'x/y', push: 'false', ...extra })[n] ?? '';
  test('the inputs are read and validated', () => {
    const i = readInputs(get({ 'cache-mounts': '/root/.npm', 'cache-mounts-max-size': '1g' }));
    expect(i.cacheMounts).toEqual([{ id: '/root/.npm', target: '/root/.npm' }]);
    expect(i.cacheMountsImage).toBe('busybox:latest');
    expect(i.cacheMountsMaxSize).toBe(1024 ** 3);
    expect(readInputs(get({})).cacheMounts).toEqual([]);
    expect(() => readInputs(get({ 'cache-mounts': 'id=a,oops' }))).toThrow('cache-mounts: unknown option "oops" in "id=a,oops"');
  });
  test('planRun: mounts follow the layer cache scope; with cache: false they are ignored with a warning', () => {
    const c = ctx({ runnerTemp: '/t' });
    const p = planRun(readInputs(get({ 'cache-mounts': '/root/.npm', 'build-args': 'BUILDKIT_CACHE_MOUNT_NS=ns1' })), c, {});
    expect(p.mounts?.scope).toBe(p.cache?.scope);
    expect(p.mounts?.root).toBe('/t/oneshot-build/mounts');
    expect(p.mounts?.namespace).toBe('ns1');
    expect(p.mounts?.mounts.map((m) => m.keys.primary)).toEqual([`obc1-mnt-${p.cache!.scope}-${mountSlug('/root/.npm')}-main-abc123`]);
    const off = planRun(readInputs(get({ 'cache-mounts': '/root/.npm', cache: 'false' })), c, {});
    expect(off.mounts).toBeUndefined();
    expect(off.meta.warnings).toContain('cache-mounts: ignored, because cache: false turns off the Actions cache for this step.');
    expect(planRun(readInputs(get({})), c, {}).mounts).toBeUndefined();
  });
});

describe('key planning', () => {
  const npm = mountSlug('/root/.npm');
  test('slugs: readable, distinct per id, safe in keys', () => {
    expect(npm).toMatch(/^root-.npm-[0-9a-f]{8}$/);
    expect(mountSlug('/Root/.npm')).not.toBe(npm);
    expect(mountSlug('a,b c')).toMatch(/^a-b-c-[0-9a-f]{8}$/);
    expect(mountSlug('///')).toMatch(/^mount-[0-9a-f]{8}$/);
    expect(mountSlug('x'.repeat(300)).length).toBeLessThanOrEqual(41);
  });
  const m = `obc1-mnt-s-${npm}-`;
  const rows: [string, Partial<Context>, string, string[]][] = [
    ['push to main', {}, `${m}main-abc123`, [`${m}main-abc123-`, `${m}main-`]],
    [
      'push to a feature branch',
      { ref: 'refs/heads/feature/x', refName: 'feature/x' },
      `${m}feature-x-abc123`,
      [`${m}feature-x-abc123-`, `${m}feature-x-`, `${m}main-`],
    ],
    ['tag', { ref: 'refs/tags/v1.2.3', refName: 'v1.2.3' }, `${m}tag-v1.2.3-abc123`, [`${m}tag-v1.2.3-abc123-`, `${m}tag-v1.2.3-`, `${m}main-`]],
    [
      'pull request: own, head branch, base branch, default branch',
      {
        eventName: 'pull_request',
        ref: 'refs/pull/15/merge',
        refName: '15/merge',
        headRef: 'fix/y',
        baseRef: 'develop',
        payload: { pull_request: { number: 15 }, repository: { default_branch: 'main' } },
      },
      `${m}pr-15-abc123`,
      [`${m}pr-15-abc123-`, `${m}pr-15-`, `${m}fix-y-`, `${m}develop-`, `${m}main-`],
    ],
  ];
  test.each(rows)('%s', (_n, over, primary, restore) => {
    expect(planMountKeys('s', '/root/.npm', ctx(over))).toEqual({ primary, restore });
  });
  test('the save key adds 16 hex digits of the content hash: the first restore key finds it', () => {
    const keys = planMountKeys('s', '/root/.npm', ctx());
    const k = saveKey(keys, 'f'.repeat(64));
    expect(k).toBe(`${m}main-abc123-${'f'.repeat(16)}`);
    expect(k.startsWith(keys.restore[0])).toBe(true);
    expect(k).not.toBe(keys.primary);
  });
  test('another mount or scope never matches these restore keys', () => {
    const a = planMountKeys('s', '/root/.npm', ctx());
    const b = planMountKeys('s', '/root/.cache', ctx());
    const c = planMountKeys('s2', '/root/.npm', ctx());
    for (const other of [b, c]) expect(a.restore.some((r) => saveKey(other, '0'.repeat(64)).startsWith(r))).toBe(false);
  });
  test('planMounts: the last BUILDKIT_CACHE_MOUNT_NS wins; none: no namespace', () => {
    const o = { mounts: [{ id: 'a' }], image: 'busybox:latest', maxBytes: 10 };
    expect(
      planMounts(
        {
          ...o,
          buildArgs: [
            { key: 'BUILDKIT_CACHE_MOUNT_NS', value: '1' },
            { key: 'BUILDKIT_CACHE_MOUNT_NS', value: '2' },
          ],
        },
        's',
        '/r',
        ctx(),
      ).namespace,
    ).toBe('2');
    expect('namespace' in planMounts({ ...o, buildArgs: [] }, 's', '/r', ctx())).toBe(false);
  });
});

describe('helper builds', () => {
  test('inject: fills the mount by id from the bound context, only when it is empty; never cached', () => {
    const d = injectDockerfile('busybox:latest', '/root/.npm');
    expect(d).not.toMatch(/^# *syntax/im);
    expect(d).toContain('FROM busybox:latest AS obc-inject');
    expect(d).toContain('ARG OBC_NONCE');
    expect(d).toContain('RUN --mount=type=cache,id=/root/.npm,target=/obc-mnt --mount=type=bind,target=/obc-src');
    expect(d).toContain('tar --numeric-owner -xf /obc-src/mnt.tar -C /obc-mnt');
    expect(d).toContain('FROM scratch\nCOPY --from=obc-inject /obc-status/ /');
  });
  test('extract: tars the mount unless it is above the limit; never cached', () => {
    const d = extractDockerfile('busybox:latest', 'npm');
    expect(d).toContain('ARG OBC_NONCE\nARG OBC_MAX_KB');
    expect(d).toContain('RUN --mount=type=cache,id=npm,target=/obc-mnt');
    expect(d).toContain('if [ "$kb" -le "$OBC_MAX_KB" ]; then tar --numeric-owner -C /obc-mnt -cf /obc-out/mnt.tar . ; fi');
    expect(d).toContain('FROM scratch\nCOPY --from=obc-extract /obc-out/ /');
  });
  test('argv: the build’s builder, no attestations, local output (dest quoted for buildx when needed)', () => {
    expect(
      helperArgv({ builder: 'b1', dockerfile: '/r/h/x.Dockerfile', context: '/r/e', dest: '/r/out', buildArgs: { OBC_NONCE: 'n', OBC_MAX_KB: '5' } }),
    ).toEqual([
      'buildx',
      'build',
      '--builder',
      'b1',
      '--progress',
      'plain',
      '--provenance=false',
      '--file',
      '/r/h/x.Dockerfile',
      '--build-arg',
      'OBC_NONCE=n',
      '--build-arg',
      'OBC_MAX_KB=5',
      '--output',
      'type=local,dest=/r/out',
      '/r/e',
    ]);
    const a = helperArgv({ builder: 'b', dockerfile: 'f', context: 'c', dest: '/tmp/a,b', buildArgs: {} });
    expect(a[a.length - 2]).toBe('type=local,"dest=/tmp/a,b"');
  });
});

describe('hashTar', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-mnt-hash-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  async function tree(name: string, files: Record<string, string>, opts: { mtime?: Date; link?: boolean } = {}): Promise<string> {
    const root = path.join(dir, name);
    await fs.mkdir(root, { recursive: true });
    for (const [f, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(root, f)), { recursive: true });
      await fs.writeFile(path.join(root, f), content);
      if (opts.mtime) await fs.utimes(path.join(root, f), opts.mtime, opts.mtime);
    }
    if (opts.link) await fs.symlink('a.txt', path.join(root, 'link'));
    return root;
  }
  function tarOf(root: string, out: string, extra: string[] = []): string {
    const file = path.join(dir, out);
    execFileSync('tar', ['--numeric-owner', ...extra, '-C', root, '-cf', file, '.']);
    return file;
  }

  test('same content: same hash, whatever the mtimes and the entry order', async () => {
    const a = tarOf(await tree('a', { 'a.txt': 'one', 'sub/b.txt': 'two' }), 'a.tar');
    const b = tarOf(await tree('b', { 'sub/b.txt': 'two', 'a.txt': 'one' }, { mtime: new Date(2001, 1, 1) }), 'b.tar', ['--sort=name']);
    const ha = await hashTar(a);
    const hb = await hashTar(b);
    expect(ha).toEqual(hb);
    expect(ha).toMatchObject({ entries: 3, files: 2, bytes: 6 });
  });
  test('changed content, a new file, a symlink or a mode change: another hash', async () => {
    const base = (await hashTar(tarOf(await tree('c', { 'a.txt': 'one' }), 'c.tar'))).hash;
    expect((await hashTar(tarOf(await tree('d', { 'a.txt': 'One' }), 'd.tar'))).hash).not.toBe(base);
    expect((await hashTar(tarOf(await tree('e', { 'a.txt': 'one', x: '' }), 'e.tar'))).hash).not.toBe(base);
    expect((await hashTar(tarOf(await tree('f', { 'a.txt': 'one' }, { link: true }), 'f.tar'))).hash).not.toBe(base);
    const g = await tree('g', { 'a.txt': 'one' });
    await fs.chmod(path.join(g, 'a.txt'), 0o600);
    expect((await hashTar(tarOf(g, 'g.tar'))).hash).not.toBe(base);
  });
  test('long names (GNU and pax) and an empty mount', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    const gnu = await hashTar(tarOf(await tree('h', { [long]: 'x' }), 'h.tar', ['--format=gnu']));
    const pax = await hashTar(tarOf(await tree('i', { [long]: 'x' }), 'i.tar', ['--format=pax']));
    expect(gnu.hash).toBe(pax.hash);
    expect(gnu.files).toBe(1);
    const empty = await hashTar(tarOf(await tree('j', {}), 'j.tar'));
    expect(empty.entries).toBe(0);
  });
  test('a truncated archive is an error', async () => {
    const t = tarOf(await tree('k', { 'a.txt': 'x'.repeat(5000) }), 'k.tar');
    const buf = await fs.readFile(t);
    await fs.writeFile(t, buf.subarray(0, 2048));
    await expect(hashTar(t)).rejects.toThrow('tar: the archive ends inside an entry');
  });
  test('names are normalized', () => {
    expect([normalizeName('./'), normalizeName('.'), normalizeName('./a/b/'), normalizeName('a')]).toEqual(['', '', 'a/b', 'a']);
  });
});
