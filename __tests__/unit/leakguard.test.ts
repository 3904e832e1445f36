// Issue 6: the leak guard's pure parts: which needles, the streaming search (also across chunk
// boundaries), gzip and zstd layer data, the tar reader, and the one-line error.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { planNeedles, MIN_NEEDLE_BYTES } from '../../src/leakguard/needles.js';
import { StreamSearch } from '../../src/leakguard/search.js';
import { scanReadable, detectEncoding } from '../../src/leakguard/blob.js';
import { readTar } from '../../src/leakguard/tar.js';
import { LeakGuard, externalZstdDecoder } from '../../src/leakguard/index.js';

const b = (s: string) => Buffer.from(s);
const zstd = (buf: Buffer) => spawnSync('zstd', ['-q', '-c'], { input: buf, maxBuffer: 1 << 30 }).stdout as Buffer;

/** Feeds `data` in chunks of the given sizes (cycled). */
function* chunks(data: Buffer, sizes: number[]): Generator<Buffer> {
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const n = sizes[i++ % sizes.length];
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

describe('planNeedles', () => {
  test('the value, and each trimmed non-trivial line; short ones skipped', () => {
    const p = planNeedles([
      { id: 'multi', value: b('first-line-long\n  second line x  \nshort\n-----BEGIN RSA PRIVATE KEY-----\n') },
      { id: 'tiny', value: b('abc') },
      { id: 'short-lines', value: b('ab\ncd\nef\ngh') },
      { id: 'empty', value: b('') },
      { id: 'dup', value: b('first-line-long') },
    ]);
    expect(p.needles.map((n) => [n.id, n.bytes.toString()])).toEqual([
      ['multi', 'first-line-long\n  second line x  \nshort\n-----BEGIN RSA PRIVATE KEY-----\n'],
      ['multi', 'first-line-long'],
      ['multi', 'second line x'],
      ['short-lines', 'ab\ncd\nef\ngh'],
    ]);
    // "dup" has the same bytes as a line of "multi": searched once, reported under the first id.
    expect(p.skipped).toEqual(['tiny', 'empty']);
    expect(MIN_NEEDLE_BYTES).toBe(8);
  });

  test('exactly MIN_NEEDLE_BYTES is searched, one less is not', () => {
    expect(planNeedles([{ id: 'a', value: Buffer.alloc(MIN_NEEDLE_BYTES, 0x61) }]).skipped).toEqual([]);
    expect(planNeedles([{ id: 'a', value: Buffer.alloc(MIN_NEEDLE_BYTES - 1, 0x61) }]).skipped).toEqual(['a']);
  });
});

describe('StreamSearch', () => {
  const needle = b('NEEDLE-0123456789');
  const hay = Buffer.concat([randomBytes(1000), needle, randomBytes(1000)]);
  // Every split of the needle across two chunks, and one-byte chunks.
  const splits = [...Array(needle.length + 1).keys()].map((k) => [1000 + k, 5000]);
  test.each(splits)('found when the chunk boundary is at %i', (first, rest) => {
    const s = new StreamSearch([needle, b('not-there-at-all')]);
    for (const c of chunks(hay, [first, rest])) s.push(c);
    expect(s.hits()).toEqual([0]);
  });
  test('found with one-byte chunks and with 3-byte chunks', () => {
    for (const size of [1, 3]) {
      const s = new StreamSearch([needle]);
      for (const c of chunks(hay, [size])) s.push(c);
      expect(s.hits()).toEqual([0]);
    }
  });
  test('a needle spanning three chunks is found', () => {
    const s = new StreamSearch([needle]);
    s.push(Buffer.concat([randomBytes(10), needle.subarray(0, 4)]));
    s.push(needle.subarray(4, 9));
    s.push(Buffer.concat([needle.subarray(9), randomBytes(10)]));
    expect(s.hits()).toEqual([0]);
  });
  test('a near miss is not a hit', () => {
    const s = new StreamSearch([needle]);
    for (const c of chunks(Buffer.concat([needle.subarray(0, 10), b('x'), needle.subarray(10)]), [7])) s.push(c);
    expect(s.hits()).toEqual([]);
  });
});

describe('scanning a blob: raw, gzip and zstd', () => {
  const secret = b('s3cr3t-value-\n-with-newline\n');
  // Compressible text, so the secret's bytes do not survive compression as they are.
  const text = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `line ${i} of a layer file\n`).join(''));
  const content = Buffer.concat([text(12_000), secret, text(12_000)]);
  const needles = planNeedles([{ id: 't', value: secret }]).needles.map((n) => n.bytes);

  test('encodings are told by their magic bytes', () => {
    expect(detectEncoding(gzipSync(b('x')))).toBe('gzip');
    expect(detectEncoding(zstd(b('x')))).toBe('zstd');
    expect(detectEncoding(b('{"a":1}'))).toBe('raw');
  });

  test('raw data', async () => {
    const r = await scanReadable(chunks(content, [65536]), needles);
    expect(r.hits.map((h) => h.encoding)).toContain('raw');
  });

  test('gzip data, read in odd chunk sizes (the first smaller than the magic)', async () => {
    const gz = gzipSync(content);
    expect(gz.includes(secret)).toBe(false);
    const r = await scanReadable(chunks(gz, [1, 2, 7777, 65536]), needles);
    expect(r.hits).toEqual([
      { needle: 0, encoding: 'gzip' },
      { needle: 1, encoding: 'gzip' },
      { needle: 2, encoding: 'gzip' },
    ]);
    expect(r.decompressed).toBe(content.length);
  });

  test('zstd data through the zstd program', async () => {
    const zs = zstd(content);
    expect(zs.includes(secret)).toBe(false);
    const r = await scanReadable(chunks(zs, [4096]), needles, { zstd: () => externalZstdDecoder() });
    expect(r.hits.map((h) => h.encoding)).toEqual(['zstd', 'zstd', 'zstd']);
  });

  test('clean compressed data has no hits', async () => {
    const clean = randomBytes(500_000);
    expect((await scanReadable(chunks(gzipSync(clean), [65536]), needles)).hits).toEqual([]);
    expect((await scanReadable(chunks(zstd(clean), [65536]), needles, { zstd: () => externalZstdDecoder() })).hits).toEqual([]);
  });

  test('corrupt gzip data is an error, not a pass', async () => {
    const gz = gzipSync(content);
    gz[gz.length >> 1] ^= 0xff;
    gz[(gz.length >> 1) + 1] ^= 0xff;
    await expect(scanReadable(chunks(gz, [65536]), needles)).rejects.toThrow(/cannot decompress gzip data/);
  });
});

/** A tar archive made by the tar program (ustar, with a long name in a pax header). */
async function makeTar(files: Record<string, Buffer>): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-unit-tar-'));
  for (const [name, data] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), data);
  }
  const r = spawnSync('tar', ['--format=pax', '-C', dir, '-cf', '-', ...Object.keys(files)], { maxBuffer: 1 << 30 });
  await fs.rm(dir, { recursive: true, force: true });
  return r.stdout as Buffer;
}

describe('readTar', () => {
  test('hands each regular file to its sink, with long names and odd sizes', async () => {
    const long = `${'d'.repeat(120)}/file.bin`;
    const files = { 'blobs/sha256/aa': randomBytes(1000), [long]: randomBytes(70_001), 'index.json': b('{}') };
    const tar = await makeTar(files);
    const got: Record<string, string> = {};
    await readTar(chunks(tar, [511, 4096, 3]), (e) => {
      const parts: Buffer[] = [];
      return {
        write: async (c) => void parts.push(Buffer.from(c)),
        end: async () => void (got[e.name] = createHash('sha256').update(Buffer.concat(parts)).digest('hex')),
      };
    });
    const want = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, createHash('sha256').update(v).digest('hex')]));
    expect(got).toEqual(want);
  });

  test('a truncated archive is an error', async () => {
    const tar = await makeTar({ f: randomBytes(5000) });
    await expect(readTar(chunks(tar.subarray(0, 3000), [1024]), () => ({ write: async () => undefined, end: async () => undefined }))).rejects.toThrow(/tar: /);
  });
});

describe('LeakGuard on a directory (an OCI layout)', () => {
  test('names the secret id and the blob digest, never the value; clean blobs pass', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-unit-layout-'));
    const secret = 'the-secret-token-value-42';
    const leaky = gzipSync(Buffer.concat([Buffer.alloc(100_000, 'layer text '), b(secret), Buffer.alloc(1000, 'more text ')]));
    expect(leaky.includes(b(secret))).toBe(false);
    const clean = gzipSync(randomBytes(100_000));
    const dig = (x: Buffer) => createHash('sha256').update(x).digest('hex');
    await fs.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    await fs.writeFile(path.join(dir, 'blobs', 'sha256', dig(leaky)), leaky);
    await fs.writeFile(path.join(dir, 'blobs', 'sha256', dig(clean)), clean);
    await fs.writeFile(path.join(dir, 'index.json'), '{}');

    const g = new LeakGuard(planNeedles([{ id: 'npm', value: b(secret) }, { id: 'other', value: b('not-in-any-layer') }]));
    await g.scanDirectory(dir, 'layer cache');
    expect(g.stats.blobs).toBe(3);
    expect(g.findings).toEqual([{ id: 'npm', blob: `sha256:${dig(leaky)}`, place: 'layer cache', encoding: 'gzip' }]);
    const err = g.error()!;
    expect(err.message).toMatch(new RegExp(`^secret-scan: secret "npm" is in layer cache blob sha256:${dig(leaky)} \\(gzip layer data\\)\\. Nothing was pushed`));
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain('\n');

    // A blob already scanned (same digest) is not scanned twice.
    await g.scanDirectory(dir, 'image');
    expect(g.stats.blobs).toBe(4);

    const cleanGuard = new LeakGuard(planNeedles([{ id: 'other', value: b('not-in-any-layer') }]));
    await cleanGuard.scanDirectory(dir, 'image');
    expect(cleanGuard.error()).toBeUndefined();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('a missing directory scans nothing', async () => {
    const g = new LeakGuard(planNeedles([{ id: 'a', value: b('abcdefghijk') }]));
    await g.scanDirectory(path.join(os.tmpdir(), 'obc-does-not-exist-xyz'), 'layer cache');
    expect(g.stats.blobs).toBe(0);
  });
});

test('Readable streams work as sources too', async () => {
  const r = await scanReadable(Readable.from([b('xxabcdefgh'), b('ijxx')]), [b('abcdefghij')]);
  expect(r.hits).toEqual([{ needle: 0, encoding: 'raw' }]);
});
