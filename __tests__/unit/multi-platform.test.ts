// The pure parts of multi-platform builds: which architectures need QEMU, the emulation
// plan, distribute mode's inputs, hand-over keys, build output, merge commands and index parsing.
import { describe, expect, test } from '@jest/globals';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { emulatedArches, goArch, parseHandler, planEmulation, qemuName, DEFAULT_QEMU_IMAGE } from '../../src/emulation.js';
import {
  digestKey,
  digestOutput,
  indexAnnotations,
  mergeCommands,
  normalizePlatform,
  parseHandedDigest,
  platformDigests,
  tagsOf,
} from '../../src/distribute.js';
import { blobKey, planScope } from '../../src/cache/keys.js';
import { renderMainSummary } from '../../src/summary.js';
import { describeManifest } from '../../src/docker/imagetools.js';
import { createHash } from 'node:crypto';

const get = (extra: Record<string, string>) => (n: string) => ({ images: 'x/y', push: 'false', ...extra })[n] ?? '';
function inputError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e.message;
    throw e;
  }
  throw new Error('no InputError');
}

describe('emulation planning', () => {
  test.each([
    ['x64', 'amd64'],
    ['arm64', 'arm64'],
    ['ia32', '386'],
    ['s390x', 's390x'],
    ['riscv64', 'riscv64'],
  ])('node arch %s is GOARCH %s', (n, g) => expect(goArch(n)).toBe(g));

  test.each<[string[], string, string[]]>([
    [['linux/amd64'], 'amd64', []],
    [['linux/amd64', 'linux/arm64'], 'amd64', ['arm64']],
    [['linux/386', 'linux/amd64/v2'], 'amd64', []],
    [['linux/arm/v7', 'linux/arm/v6', 'linux/arm64', 'linux/riscv64'], 'amd64', ['arm', 'arm64', 'riscv64']],
    [['linux/amd64', 'linux/arm64'], 'arm64', ['amd64']],
    [['linux/arm/v7'], 'arm64', ['arm']],
    [['linux/aarch64', 'linux/x86_64'], 'amd64', ['arm64']],
    [['local'], 'amd64', []],
    [[], 'amd64', []],
  ])('%j on %s emulates %j', (platforms, host, want) => expect(emulatedArches(platforms, host)).toEqual(want));

  test.each([
    ['arm64', 'aarch64'],
    ['arm', 'arm'],
    ['amd64', 'x86_64'],
    ['386', 'i386'],
    ['mips64le', 'mips64el'],
    ['loong64', 'loongarch64'],
  ])('%s has the handler qemu-%s', (a, q) => expect(qemuName(a)).toBe(q));

  test('a handler file: enabled and its flags', () => {
    expect(parseHandler('enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: POF\noffset 0\n')).toEqual({ enabled: true, flags: 'POF' });
    expect(parseHandler('disabled\nflags: F\n')).toEqual({ enabled: false, flags: 'F' });
    expect(parseHandler('')).toEqual({ enabled: false, flags: '' });
  });

  const base = {
    platforms: ['linux/amd64', 'linux/arm64', 'linux/riscv64'],
    hostArch: 'amd64',
    driver: 'docker',
    enabled: true,
    image: DEFAULT_QEMU_IMAGE,
    registered: new Set<string>(),
  };
  test('the exact plans', () => {
    expect(planEmulation({ ...base, platforms: ['linux/amd64'] })).toEqual({ action: 'none' });
    expect(planEmulation(base)).toEqual({
      action: 'install',
      arches: ['arm64', 'riscv64'],
      present: [],
      argv: ['run', '--rm', '--privileged', DEFAULT_QEMU_IMAGE, '--install', 'arm64,riscv64'],
    });
    expect(planEmulation({ ...base, registered: new Set(['aarch64']) })).toEqual({
      action: 'install',
      arches: ['riscv64'],
      present: ['arm64'],
      argv: ['run', '--rm', '--privileged', DEFAULT_QEMU_IMAGE, '--install', 'riscv64'],
    });
    expect(planEmulation({ ...base, registered: new Set(['aarch64', 'riscv64']) })).toEqual({ action: 'present', arches: ['arm64', 'riscv64'] });
    expect(planEmulation({ ...base, enabled: false })).toEqual({ action: 'off', arches: ['arm64', 'riscv64'] });
    expect(planEmulation({ ...base, driver: 'docker-container', image: 'mirror/binfmt:1' })).toMatchObject({
      action: 'install',
      argv: ['run', '--rm', '--privileged', 'mirror/binfmt:1', '--install', 'arm64,riscv64'],
    });
    expect(planEmulation({ ...base, driver: 'remote' })).toMatchObject({ action: 'none', note: expect.stringContaining('the remote builder runs elsewhere') });
  });
});

describe('multi-platform inputs', () => {
  test('defaults', () => {
    const i = readInputs(get({}));
    expect([i.qemu, i.qemuImage, i.distribute, i.distributeWaitSeconds]).toEqual([true, 'tonistiigi/binfmt:latest', 'off', 120]);
    expect(readInputs(get({ distribute: 'false' })).distribute).toBe('off');
    expect(readInputs(get({ distribute: 'platform', platforms: 'linux/arm64' })).distribute).toBe('platform');
    expect(readInputs(get({ distribute: 'merge', platforms: 'linux/amd64,linux/arm64', 'distribute-wait': '5' }))).toMatchObject({
      distribute: 'merge',
      distributeWaitSeconds: 5,
    });
    expect(readInputs(get({ qemu: 'false', 'qemu-image': 'mirror/binfmt:1' }))).toMatchObject({ qemu: false, qemuImage: 'mirror/binfmt:1' });
  });
  test.each<[Record<string, string>, string]>([
    [
      { platforms: 'linux/arm65' },
      'platforms: "linux/arm65": unknown architecture "arm65" (a GOARCH value: amd64, arm64, arm, 386, ppc64le, s390x, riscv64, ...)',
    ],
    [{ distribute: 'merge' }, 'distribute: merge: nothing to merge: list the platforms the platform jobs built in platforms (e.g. linux/amd64,linux/arm64)'],
    [
      { distribute: 'platform', platforms: 'linux/amd64,linux/arm64' },
      'distribute: platform: each job builds exactly one platform, but platforms gives 2 ("linux/amd64,linux/arm64"); give each matrix job one, e.g. platforms: linux/arm64',
    ],
    [
      { distribute: 'platform' },
      'distribute: platform: each job builds exactly one platform, but platforms gives none; give each matrix job one, e.g. platforms: linux/arm64',
    ],
    [
      { distribute: 'platform', platforms: 'local' },
      'distribute: platform: give the platform by name (e.g. linux/amd64), not "local": the merge looks its digest up by name',
    ],
    [
      { distribute: 'platform', platforms: 'linux/arm64', driver: 'docker' },
      'driver: docker: distribute: platform pushes by digest, which the docker driver cannot; use driver: auto or docker-container',
    ],
    [{ distribute: 'both' }, 'distribute: expected one of platform, merge, got "both"'],
    [{ 'distribute-wait': '2m' }, 'distribute-wait: expected a whole number of seconds, got "2m"'],
    [{ qemu: 'yes' }, 'qemu: expected true or false, got "yes"'],
    [{ 'qemu-image': 'a b' }, 'qemu-image: expected an image reference, got "a b"'],
  ])('%j', (extra, message) => expect(inputError(() => readInputs(get(extra)))).toBe(message));
});

describe('distribute planning', () => {
  const k = (o: Partial<Parameters<typeof digestKey>[0]>) =>
    digestKey({ runId: '123', runAttempt: '1', images: ['ghcr.io/acme/app'], platform: 'linux/arm64', ...o });
  test('the hand-over key names run, attempt, image and platform; no key is a prefix of another', () => {
    expect(k({})).toMatch(/^obc1-dist-123-1-app-[0-9a-f]{8}-linux-arm64-[0-9a-f]{8}$/);
    const keys = [
      k({}),
      k({ runAttempt: '2' }),
      k({ runId: '1234' }),
      k({ images: ['ghcr.io/acme/other'] }),
      k({ platform: 'linux/arm' }),
      k({ platform: 'linux/arm/v7' }),
      k({ platform: 'linux/amd64' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    for (const a of keys) for (const b of keys) if (a !== b) expect(b.startsWith(a)).toBe(false);
    expect(k({ platform: 'linux/arm64/v8' })).toBe(k({ platform: 'LINUX/aarch64' }));
  });
  test.each([
    ['linux/arm64/v8', 'linux/arm64'],
    ['Linux/AArch64', 'linux/arm64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/amd64/v1', 'linux/amd64'],
  ])('%s is %s', (a, b) => expect(normalizePlatform(a)).toBe(b));
  test('the build output pushes by digest only', () => {
    expect(digestOutput(['r/a', 'r/b'])).toBe('type=image,"name=r/a,r/b",push-by-digest=true,name-canonical=true,push=true');
  });
  test('index annotations', () => {
    expect(
      indexAnnotations([
        'manifest:org.a=1',
        'index:org.b=2',
        'org.c=3',
        'manifest[linux/amd64]:org.d=4',
        'index-descriptor:org.e=5',
        'manifest-descriptor:org.f=6',
        'manifest:org.a=1',
        'manifest:u=https://x',
      ]),
    ).toEqual(['index:org.a=1', 'index:org.b=2', 'index:org.c=3', 'index:org.d=4', 'manifest-descriptor:org.f=6', 'index:u=https://x']);
  });
  test('tags by image', () => {
    expect(tagsOf('r/a', ['r/a:1', 'r/ab:1', 'r/a:main', 'r/a/b:1'])).toEqual(['r/a:1', 'r/a:main']);
  });
  test('one imagetools create per image with every tag, the index annotations and the digests in platform order', () => {
    const d = { 'linux/amd64': 'sha256:' + 'a'.repeat(64), 'linux/arm64': 'sha256:' + 'b'.repeat(64) };
    expect(
      mergeCommands({
        images: ['r/a', 'r/b', 'r/c'],
        tags: ['r/a:main', 'r/a:v1', 'r/b:main'],
        annotations: ['manifest:k=v'],
        platforms: ['linux/arm64', 'linux/amd64'],
        digests: d,
      }),
    ).toEqual([
      {
        image: 'r/a',
        tags: ['r/a:main', 'r/a:v1'],
        argv: [
          'buildx',
          'imagetools',
          'create',
          '--tag',
          'r/a:main',
          '--tag',
          'r/a:v1',
          '--annotation',
          'index:k=v',
          `r/a@${d['linux/arm64']}`,
          `r/a@${d['linux/amd64']}`,
        ],
      },
      {
        image: 'r/b',
        tags: ['r/b:main'],
        argv: ['buildx', 'imagetools', 'create', '--tag', 'r/b:main', '--annotation', 'index:k=v', `r/b@${d['linux/arm64']}`, `r/b@${d['linux/amd64']}`],
      },
    ]);
  });
  test('platform digests of an index leave attestations out', () => {
    const idx = {
      manifests: [
        { digest: 'sha256:1', platform: { os: 'linux', architecture: 'amd64' } },
        { digest: 'sha256:2', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        { digest: 'sha256:3', platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    };
    expect(platformDigests(idx)).toEqual({ 'linux/amd64': 'sha256:1', 'linux/arm/v7': 'sha256:2' });
    expect(platformDigests({})).toEqual({});
  });
  test('a hand-over file', () => {
    const digest = 'sha256:' + 'c'.repeat(64);
    expect(parseHandedDigest(JSON.stringify({ platform: 'linux/arm64', digest, images: ['r/a'], runId: '1', runAttempt: '2' }))).toEqual({
      platform: 'linux/arm64',
      digest,
      images: ['r/a'],
      runId: '1',
      runAttempt: '2',
    });
    expect(parseHandedDigest('{"platform":"linux/arm64","digest":"sha256:zz"}')).toBeUndefined();
    expect(parseHandedDigest('not json')).toBeUndefined();
  });
});

describe('the cache of multi-platform builds', () => {
  const s = (platforms: string[]) => planScope({ cacheScope: '', images: ['ghcr.io/acme/app'], target: '', platforms, file: 'Dockerfile' });
  test('platform jobs of a distribute run get scopes of their own; the platform order does not matter', () => {
    expect(s(['linux/amd64'])).not.toBe(s(['linux/arm64']));
    expect(s(['linux/amd64', 'linux/arm64'])).toBe(s(['linux/arm64', 'linux/amd64']));
  });
  test('what they share is stored once: blob entries are keyed by digest alone, in every scope', () => {
    expect(blobKey('sha256:' + 'd'.repeat(64))).toBe('obc1-blob-sha256-' + 'd'.repeat(64));
  });
});

describe('job summaries of multi-platform runs', () => {
  const d = (c: string) => 'sha256:' + c.repeat(64);
  test('a platform job shows its digest and the hand-over, and says no tag moved', () => {
    const md = renderMainSummary({
      tags: ['r/a:main'],
      pushed: true,
      pushReason: 'push: true',
      secretIds: [],
      distribute: 'platform',
      platforms: ['linux/arm64'],
      digest: d('a'),
      platformDigests: { 'linux/arm64': d('b') },
      handoverKey: 'obc1-dist-k',
      emulated: { arches: ['arm64'], registered: ['arm64'] },
    });
    expect(md).toContain('### ✅ Docker build pushed linux/arm64 by digest (the merge tags it)');
    expect(md).toContain('No tag moved: the merge job pushes the index under these tags:');
    expect(md).toContain(`| Digest (pushed by digest) | \`${d('a')}\` |`);
    expect(md).toContain(`| Digest of linux/arm64 | \`${d('b')}\` |`);
    expect(md).toContain('| Handed to the merge | Actions cache key `obc1-dist-k` |');
    expect(md).toContain('| QEMU emulation | arm64; registered now: arm64 |');
  });
  test('the merge shows every platform digest and the index', () => {
    const md = renderMainSummary({
      tags: ['r/a:main', 'r/a:v1'],
      pushed: true,
      pushReason: 'push: true',
      secretIds: [],
      distribute: 'merge',
      platforms: ['linux/amd64', 'linux/arm64'],
      digest: d('c'),
      platformDigests: { 'linux/amd64': d('a'), 'linux/arm64': d('b') },
    });
    expect(md).toContain('### ✅ Docker image index of 2 platforms pushed as 2 tags');
    expect(md).toContain('| Platforms merged | linux/amd64, linux/arm64 |');
    expect(md).toContain(`| Index digest | \`${d('c')}\` |`);
    expect(md).toContain(`| Digest of linux/amd64 | \`${d('a')}\` |`);
    expect(md).toContain(`| Digest of linux/arm64 | \`${d('b')}\` |`);
  });
});

describe('describeManifest: the digest and platforms of a manifest or index from its bytes', () => {
  const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
  const index = JSON.stringify({
    manifests: [
      { digest: 'sha256:a', platform: { os: 'linux', architecture: 'amd64' } },
      { digest: 'sha256:b', platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    ],
  });
  const manifest = JSON.stringify({ config: { digest: 'sha256:c' }, layers: [] });
  test.each([
    ['an index, from a string', index, '', { digest: sha(index), platforms: { 'linux/amd64': 'sha256:a' } }],
    ['an index, from bytes', Buffer.from(index), 'linux/arm64', { digest: sha(index), platforms: { 'linux/amd64': 'sha256:a' } }],
    ['a manifest of the one platform asked for', manifest, 'linux/arm64', { digest: sha(manifest), platforms: { 'linux/arm64': sha(manifest) } }],
    ['a manifest, no platform asked for', manifest, '', { digest: sha(manifest), platforms: {} }],
    ['not JSON', 'not json', '', undefined],
  ])('%s', (_name, raw, single, want) => {
    expect(describeManifest(raw, single)).toEqual(want);
  });
});
