// Scans one blob as it streams by: its raw bytes and, when it is gzip or zstd data (image layers,
// cache layers), its decompressed bytes too. Nothing is written to disk.
import * as zlib from 'node:zlib';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { StreamSearch } from './search.js';

export type Encoding = 'raw' | 'gzip' | 'zstd';

export interface BlobHit {
  /** Index into the needles the scan was made with. */
  needle: number;
  /** Where it was seen: in the blob's bytes as stored, or in its decompressed content. */
  encoding: Encoding;
}

/** A running decompressor: bytes go into `input`, decompressed bytes come out of `output`. */
export interface Decoder {
  input: Writable;
  output: Readable;
  /** Settles when the decompressor has finished (rejects when it failed). */
  done: Promise<void>;
}

export type DecoderFactory = () => Decoder;

function transformDecoder(t: zlib.Gunzip | (Readable & Writable)): Decoder {
  return { input: t, output: t, done: finished(t) };
}

function gzipDecoder(): Decoder {
  return transformDecoder(zlib.createGunzip());
}

/** Node's own zstd decompressor, where this Node has one (22.15 and later); undefined otherwise. */
export function nodeZstdDecoder(): DecoderFactory | undefined {
  const z = zlib as unknown as { createZstdDecompress?: (o?: object) => Readable & Writable; constants: Record<string, number> };
  if (typeof z.createZstdDecompress !== 'function') return undefined;
  const windowLogMax = z.constants.ZSTD_d_windowLogMax;
  return () => transformDecoder(z.createZstdDecompress!(windowLogMax !== undefined ? { params: { [windowLogMax]: 31 } } : {}));
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function detectEncoding(head: Buffer): Encoding {
  if (head.length >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.length >= 4 && head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  return 'raw';
}

export class DecompressError extends Error {}

export interface BlobScanOptions {
  /** How to decompress zstd data (default: Node's zstd, when it has one). */
  zstd?: DecoderFactory;
}

/** Push-based scan of one blob: `write` each chunk (awaiting it gives backpressure), then `end`. */
export class BlobScan {
  private readonly raw: StreamSearch;
  private readonly decoded: StreamSearch;
  private head: Buffer[] = [];
  private headLen = 0;
  private started = false;
  private encoding: Encoding = 'raw';
  private decoder?: Decoder;
  private failure?: Error;
  private failed: Promise<never>;
  private fail!: (e: Error) => void;

  constructor(
    private readonly needles: Buffer[],
    private readonly opts: BlobScanOptions = {},
  ) {
    this.raw = new StreamSearch(needles);
    this.decoded = new StreamSearch(needles);
    this.failed = new Promise<never>((_, reject) => {
      this.fail = (e: Error) => {
        if (!this.failure) {
          this.failure = e;
          reject(e);
        }
      };
    });
    this.failed.catch(() => undefined);
  }

  /** Bytes of the blob as stored, and decompressed (0 when it is not compressed). */
  get sizes(): { stored: number; decompressed: number } {
    return { stored: this.raw.bytes, decompressed: this.decoded.bytes };
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.wrap(this.failure);
    this.raw.push(chunk);
    if (!this.started) {
      this.head.push(chunk);
      this.headLen += chunk.length;
      if (this.headLen < 4) return;
      await this.start();
      return;
    }
    await this.feed(chunk);
  }

  async end(): Promise<BlobHit[]> {
    if (!this.started) await this.start();
    if (this.decoder) {
      this.decoder.input.end();
      try {
        await Promise.race([this.decoder.done, this.failed]);
        await Promise.race([finished(this.decoder.output), this.failed]);
      } catch (err) {
        throw this.wrap(err as Error);
      }
    }
    const hits: BlobHit[] = this.raw.hits().map((needle) => ({ needle, encoding: 'raw' as const }));
    for (const needle of this.decoded.hits()) if (!hits.some((h) => h.needle === needle)) hits.push({ needle, encoding: this.encoding });
    return hits;
  }

  private wrap(err: Error): Error {
    return err instanceof DecompressError ? err : new DecompressError(`cannot decompress ${this.encoding} data: ${err.message}`);
  }

  private async start(): Promise<void> {
    this.started = true;
    const head = Buffer.concat(this.head);
    this.head = [];
    this.encoding = detectEncoding(head);
    if (this.encoding !== 'raw' && this.needles.length > 0) {
      const factory = this.encoding === 'gzip' ? gzipDecoder : (this.opts.zstd ?? nodeZstdDecoder());
      if (!factory) throw new DecompressError('cannot decompress zstd data: no zstd decompressor available');
      const d = factory();
      this.decoder = d;
      d.output.on('data', (c: Buffer) => this.decoded.push(c));
      d.output.on('error', (e: Error) => this.fail(e));
      d.input.on('error', (e: Error) => this.fail(e));
      d.done.catch((e: Error) => this.fail(e));
    }
    if (head.length) await this.feed(head);
  }

  private async feed(chunk: Buffer): Promise<void> {
    const d = this.decoder;
    if (!d) return;
    if (!d.input.write(chunk)) {
      try {
        await Promise.race([new Promise<void>((resolve) => d.input.once('drain', () => resolve())), this.failed]);
      } catch (err) {
        throw this.wrap(err as Error);
      }
    }
  }
}
