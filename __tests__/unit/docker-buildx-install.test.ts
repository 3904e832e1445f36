// Installing buildx: version and URL template inputs, release asset names, checksums files and
// resolving `latest` through a mirror's checksums file.
import { describe, expect, test } from '@jest/globals';
import {
  assetName,
  cacheVersion,
  expandUrl,
  parseBuildxRequest,
  parseChecksums,
  pluginFileName,
  redactUrl,
  releasePlatform,
  versionFromChecksums,
} from '../../src/docker/buildx-install.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('buildx-version and buildx-download-url', () => {
  test.each<[string, string, { version: string; downloadUrl: string }]>([
    ['', '', { version: '', downloadUrl: '' }],
    ['latest', '', { version: 'latest', downloadUrl: '' }],
    [' Latest ', '', { version: 'latest', downloadUrl: '' }],
    ['v0.19.3', '', { version: 'v0.19.3', downloadUrl: '' }],
    ['0.19.3', '', { version: 'v0.19.3', downloadUrl: '' }],
    ['v0.20.0-rc1', '', { version: 'v0.20.0-rc1', downloadUrl: '' }],
    ['v0.19.3', 'https://mirror.example/buildx/{version}/{asset}', { version: 'v0.19.3', downloadUrl: 'https://mirror.example/buildx/{version}/{asset}' }],
  ])('%j %j', (v, url, want) => {
    expect(parseBuildxRequest(v, url)).toEqual(want);
  });

  test.each<[string, string, string]>([
    ['0.19', '', 'buildx-version: expected latest or a release version such as v0.19.3, got "0.19"'],
    ['master', '', 'buildx-version: expected latest or a release version such as v0.19.3, got "master"'],
    ['v0.19.3', 'ftp://mirror/{version}/{asset}', 'buildx-download-url: expected an http(s) URL template, got "ftp://mirror/{version}/{asset}"'],
    [
      'v0.19.3',
      'https://mirror/buildx/{asset}',
      'buildx-download-url: the template must contain {version} and {asset}, e.g. https://mirror.example/buildx/{version}/{asset}',
    ],
    ['v0.19.3', 'ftp://user:pw@mirror/{version}/{asset}', 'buildx-download-url: expected an http(s) URL template, got "ftp://***@mirror/{version}/{asset}"'],
  ])('%j %j fails', (v, url, message) => {
    expect(() => parseBuildxRequest(v, url)).toThrow(message);
  });
});

describe('release assets', () => {
  test.each<[string, string, string | undefined, string]>([
    ['linux', 'x64', undefined, 'linux-amd64'],
    ['linux', 'arm64', undefined, 'linux-arm64'],
    ['linux', 'arm', '7', 'linux-arm-v7'],
    ['linux', 'arm', '6', 'linux-arm-v6'],
    ['linux', 'ppc64', undefined, 'linux-ppc64le'],
    ['linux', 's390x', undefined, 'linux-s390x'],
    ['linux', 'riscv64', undefined, 'linux-riscv64'],
    ['darwin', 'arm64', undefined, 'darwin-arm64'],
    ['win32', 'x64', undefined, 'windows-amd64'],
  ])('%s/%s', (platform, arch, armv, want) => {
    expect(releasePlatform(platform, arch, armv)).toBe(want);
  });

  test.each([
    ['linux', 'ia32'],
    ['aix', 'ppc64'],
    ['darwin', 's390x'],
  ])('%s/%s has no release binary', (platform, arch) => {
    expect(() => releasePlatform(platform, arch)).toThrow(
      `buildx-version: buildx publishes no release binary for this runner's platform (${platform}/${arch})`,
    );
  });

  test('names, plugin file names and URLs', () => {
    expect(assetName('v0.19.3', 'linux-amd64')).toBe('buildx-v0.19.3.linux-amd64');
    expect(assetName('v0.19.3', 'windows-arm64')).toBe('buildx-v0.19.3.windows-arm64.exe');
    expect(pluginFileName('linux')).toBe('docker-buildx');
    expect(pluginFileName('win32')).toBe('docker-buildx.exe');
    expect(expandUrl('https://github.com/docker/buildx/releases/download/{version}/{asset}', 'v0.19.3', 'buildx-v0.19.3.linux-amd64')).toBe(
      'https://github.com/docker/buildx/releases/download/v0.19.3/buildx-v0.19.3.linux-amd64',
    );
    expect(expandUrl('http://127.0.0.1:8080/{version}/{asset}?x={asset}', 'latest', 'checksums.txt')).toBe(
      'http://127.0.0.1:8080/latest/checksums.txt?x=checksums.txt',
    );
    expect(cacheVersion('v0.19.3')).toBe('0.19.3');
    expect(redactUrl('https://u:secret@mirror.example/x')).toBe('https://***@mirror.example/x');
    expect(redactUrl('https://mirror.example/a@b')).toBe('https://mirror.example/a@b');
  });
});

describe('checksums.txt', () => {
  const text = [
    `${SHA_A} *buildx-v0.19.3.linux-amd64`,
    `${SHA_B.toUpperCase()}  buildx-v0.19.3.linux-arm64`,
    `${'c'.repeat(64)} *buildx-v0.19.3.windows-amd64.exe`,
    `${'d'.repeat(64)} *./release-out/buildx-v0.19.3.darwin-arm64`,
    'not a checksum line',
    '',
  ].join('\r\n');

  test('binary-mode and text-mode lines, names without directories, hex lower-cased', () => {
    const m = parseChecksums(text);
    expect(m.get('buildx-v0.19.3.linux-amd64')).toBe(SHA_A);
    expect(m.get('buildx-v0.19.3.linux-arm64')).toBe(SHA_B);
    expect(m.get('buildx-v0.19.3.darwin-arm64')).toBe('d'.repeat(64));
    expect(m.size).toBe(4);
  });

  test('the version of a mirror\'s "latest" release comes from its asset names', () => {
    const m = parseChecksums(text);
    expect(versionFromChecksums(m, 'linux-amd64')).toBe('v0.19.3');
    expect(versionFromChecksums(m, 'windows-amd64')).toBe('v0.19.3');
    expect(versionFromChecksums(m, 'linux-s390x')).toBeUndefined();
    expect(versionFromChecksums(parseChecksums(`${SHA_A} *buildx-v0.20.0-rc1.linux-amd64`), 'linux-amd64')).toBe('v0.20.0-rc1');
  });
});
