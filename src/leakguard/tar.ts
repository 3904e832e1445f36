// A minimal streaming tar reader (ustar, pax and GNU long names), enough for `docker save` output:
// each regular file's content is handed to a sink piece by piece, never held whole in memory.
import { cstr, parsePax, tarNumber } from '../tar-fields.js';

export interface TarSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

export interface TarEntry {
  name: string;
  size: number;
  /** '0' regular file, '5' directory, ... */
  type: string;
}

class Reader {
  private bufs: Buffer[] = [];
  private len = 0;
  private eof = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.eof) return false;
    const r = await this.it.next();
    if (r.done) {
      this.eof = true;
      return false;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    if (b.length) {
      this.bufs.push(b);
      this.len += b.length;
    }
    return true;
  }

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.len < n && (await this.more()));
    const all = Buffer.concat(this.bufs);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.bufs = rest.length ? [rest] : [];
    this.len = rest.length;
    return out;
  }

  /** n bytes in pieces as they arrive; throws when the stream ends first. */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.len === 0 && !(await this.more())) throw new Error('tar: the archive ends inside an entry');
      if (this.len === 0) continue;
      const b = this.bufs[0];
      if (b.length <= left) {
        this.bufs.shift();
        this.len -= b.length;
        left -= b.length;
        yield b;
      } else {
        this.bufs[0] = b.subarray(left);
        this.len -= left;
        yield b.subarray(0, left);
        left = 0;
      }
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.pieces(n)) void _;
  }

  /** Reads (and drops) whatever is left, so a producer writing into a pipe can finish. */
  async drain(): Promise<void> {
    this.bufs = [];
    this.len = 0;
    while (await this.more()) {
      this.bufs = [];
      this.len = 0;
    }
  }
}


const pad = (n: number) => (512 - (n % 512)) % 512;

/**
 * Reads a tar stream. `onEntry` returns a sink for the entries it wants (regular files only);
 * the others are skipped. Reads the source to its end.
 */
export async function readTar(src: AsyncIterable<Buffer> | Iterable<Buffer>, onEntry: (e: TarEntry) => TarSink | undefined): Promise<void> {
  const r = new Reader((async function* () {
    yield* src;
  })());
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = await r.read(512);
    if (h.length === 0) break;
    if (h.length < 512) throw new Error('tar: the archive ends inside a header');
    if (h.every((b) => b === 0)) break;
    const type = String.fromCharCode(h[156] || 0x30);
    let size = tarNumber(h.subarray(124, 136), 'size');
    const magic = h.subarray(257, 263).toString('latin1');
    let name = cstr(h.subarray(0, 100));
    if (magic.startsWith('ustar')) {
      const prefix = cstr(h.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    if (type === 'x' || type === 'g' || type === 'L') {
      const data = await r.read(size);
      if (data.length < size) throw new Error('tar: the archive ends inside an entry');
      await r.skip(pad(size));
      if (type === 'x') pax = parsePax(data);
      if (type === 'L') longName = cstr(data);
      continue;
    }
    if (pax.path) name = pax.path;
    else if (longName !== undefined) name = longName;
    if (pax.size && /^\d+$/.test(pax.size)) size = Number(pax.size);
    pax = {};
    longName = undefined;
    const regular = type === '0' || type === '7';
    const sink = regular ? onEntry({ name, size, type }) : undefined;
    const contentSize = regular || type === 'S' ? size : type === '1' || type === '2' || type === '5' ? 0 : size;
    if (sink) {
      for await (const piece of r.pieces(contentSize)) await sink.write(piece);
      await sink.end();
    } else {
      await r.skip(contentSize);
    }
    await r.skip(pad(contentSize));
  }
  await r.drain();
}
