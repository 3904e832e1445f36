// The leak guard's pure parts: which needles, the streaming search (also across chunk
// boundaries), gzip and zstd layer data, the tar reader, and the one-line error.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  planNeedles,
  piecesOf,
  MIN_NEEDLE_BYTES,
  MAX_NEEDLE_BYTES,
  SLICE_BYTES,
  SLICES_PER_LONG,
  MAX_NEEDLES_PER_SECRET,
} from '../../src/leakguard/needles.js';
import { StreamSearch } from '../../src/leakguard/search.js';
import { BlobScan, detectEncoding } from '../../src/leakguard/blob.js';
import type { BlobScanOptions } from '../../src/leakguard/blob.js';

/** Feeds a blob to the scanner chunk by chunk, as the guard feeds a layer from disk or docker save. */
async function scanReadable(src: AsyncIterable<Buffer> | Iterable<Buffer>, needles: Buffer[], opts: BlobScanOptions = {}) {
  const scan = new BlobScan(needles, opts);
  for await (const chunk of src) await scan.write(chunk);
  return { hits: await scan.end(), ...scan.sizes };
}
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

describe('planNeedles: secrets longer than MAX_NEEDLE_BYTES are still looked for', () => {
  const hex = (bytes: number) =>
    randomBytes(Math.ceil(bytes / 2))
      .toString('hex')
      .slice(0, bytes);
  const total = (p: ReturnType<typeof planNeedles>) => p.needles.reduce((n, x) => n + x.bytes.length, 0);

  test.each([MAX_NEEDLE_BYTES + 1, 70 * 1024, 1024 * 1024, 8 * 1024 * 1024])('a one-line secret of %i bytes is searched by bounded slices of it', (len) => {
    const value = b(hex(len));
    const p = planNeedles([{ id: 'long', value }]);
    expect(p.skipped).toEqual([]);
    expect(p.needles).toHaveLength(SLICES_PER_LONG);
    expect(total(p)).toBe(SLICES_PER_LONG * SLICE_BYTES);
    for (const n of p.needles) {
      expect(n.id).toBe('long');
      expect(n.bytes.length).toBe(SLICE_BYTES);
      expect(value.includes(n.bytes)).toBe(true);
    }
    // The first and the last bytes of the value are covered.
    expect(p.needles[0].bytes.equals(value.subarray(0, SLICE_BYTES))).toBe(true);
    expect(p.needles[SLICES_PER_LONG - 1].bytes.equals(value.subarray(len - SLICE_BYTES))).toBe(true);
  });

  test('up to MAX_NEEDLE_BYTES the value is searched whole', () => {
    const value = b(hex(MAX_NEEDLE_BYTES));
    expect(planNeedles([{ id: 'v', value }]).needles.map((n) => n.bytes.length)).toEqual([MAX_NEEDLE_BYTES]);
  });

  test('a long value that was copied into a layer is found there, raw and gzip; a clean layer is not a hit', async () => {
    const value = b(hex(100 * 1024));
    const needles = planNeedles([{ id: 'long', value }]).needles.map((n) => n.bytes);
    const layer = Buffer.concat([randomBytes(300_000), b('prefix='), value, b('\n'), randomBytes(300_000)]);
    const raw = await scanReadable(chunks(layer, [65536, 1000]), needles);
    expect(raw.hits.length).toBe(SLICES_PER_LONG);
    const gz = await scanReadable(chunks(gzipSync(layer), [65536]), needles);
    expect(gz.hits.length).toBe(SLICES_PER_LONG);
    expect(gz.hits.every((h) => h.encoding !== 'raw')).toBe(true);
    // Half of the value (more than the gap between two slices plus one slice) is still a hit.
    const half = await scanReadable([Buffer.concat([randomBytes(1000), value.subarray(20_000, 20_000 + 50 * 1024)])], needles);
    expect(half.hits.length).toBeGreaterThan(0);
    const clean = await scanReadable(chunks(Buffer.concat([randomBytes(500_000), b(hex(200 * 1024))]), [65536]), needles);
    expect(clean.hits).toEqual([]);
  });

  test('lines longer than MAX_NEEDLE_BYTES in a multi-line secret are sliced too; short lines stay whole', () => {
    const long = hex(90 * 1024);
    const p = planNeedles([{ id: 'm', value: b(`short-line-here\n${long}\n  another-line  \n`) }]);
    expect(p.skipped).toEqual([]);
    const lens = p.needles.map((n) => n.bytes.length);
    expect(lens.filter((l) => l === SLICE_BYTES)).toHaveLength(SLICES_PER_LONG);
    expect(p.needles.map((n) => n.bytes.toString()).filter((t) => t.length < 100)).toEqual(['short-line-here', 'another-line']);
    for (const n of p.needles) expect(n.bytes.length).toBeLessThanOrEqual(SLICE_BYTES);
  });

  test('a long value of short lines only is searched by slices of the whole value', () => {
    const value = b(Array.from({ length: 30_000 }, () => hex(3)).join('\n'));
    expect(value.length).toBeGreaterThan(MAX_NEEDLE_BYTES);
    const p = planNeedles([{ id: 'v', value }]);
    expect(p.skipped).toEqual([]);
    expect(p.needles).toHaveLength(SLICES_PER_LONG);
  });

  test('memory stays bounded: at most MAX_NEEDLES_PER_SECRET needles of at most MAX_NEEDLE_BYTES each', () => {
    const many = Array.from({ length: 2000 }, () => hex(70 * 1024 + 1)).join('\n');
    const p = planNeedles([{ id: 'big', value: b(many) }]);
    expect(p.needles.length).toBe(MAX_NEEDLES_PER_SECRET);
    expect(total(p)).toBe(MAX_NEEDLES_PER_SECRET * SLICE_BYTES);
  });

  test('only a value shorter than MIN_NEEDLE_BYTES is skipped', () => {
    const p = planNeedles([
      { id: 'tiny', value: b('1234567') },
      { id: 'long', value: b(hex(200 * 1024)) },
      { id: 'armor-only-long', value: b('-----BEGIN RSA PRIVATE KEY-----\n'.repeat(3000)) },
    ]);
    expect(p.skipped).toEqual(['tiny']);
  });

  test('piecesOf: nothing below MIN_NEEDLE_BYTES, the piece itself up to MAX_NEEDLE_BYTES, else slices', () => {
    expect(piecesOf(b('1234567'))).toEqual([]);
    expect(piecesOf(b('12345678')).map(String)).toEqual(['12345678']);
    expect(piecesOf(Buffer.alloc(MAX_NEEDLE_BYTES + 1, 1)).map((x) => x.length)).toEqual(Array(SLICES_PER_LONG).fill(SLICE_BYTES));
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

    const g = new LeakGuard(
      planNeedles([
        { id: 'npm', value: b(secret) },
        { id: 'other', value: b('not-in-any-layer') },
      ]),
    );
    await g.scanDirectory(dir, 'layer cache');
    expect(g.stats.blobs).toBe(3);
    expect(g.findings).toEqual([{ id: 'npm', blob: `sha256:${dig(leaky)}`, place: 'layer cache', encoding: 'gzip' }]);
    const err = g.error()!;
    expect(err.message).toMatch(
      new RegExp(`^secret-scan: secret "npm" is in layer cache blob sha256:${dig(leaky)} \\(gzip layer data\\)\\. Nothing was pushed`),
    );
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
