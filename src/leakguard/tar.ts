// A minimal streaming tar reader (ustar, pax and GNU long names), enough for `docker save` output:
// each regular file's content is handed to a sink piece by piece, never held whole in memory.
import { TAR_BLOCK, TarExtensions, contentSize, parseHeader, tarPadded } from '../tar-fields.js';

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

/**
 * Reads a tar stream. `onEntry` returns a sink for the entries it wants (regular files only);
 * the others are skipped. Reads the source to its end.
 */
export async function readTar(src: AsyncIterable<Buffer> | Iterable<Buffer>, onEntry: (e: TarEntry) => TarSink | undefined): Promise<void> {
  const r = new Reader(
    (async function* () {
      yield* src;
    })(),
  );
  const ext = new TarExtensions();
  for (;;) {
    const h = await r.read(TAR_BLOCK);
    if (h.length === 0) break;
    if (h.length < TAR_BLOCK) throw new Error('tar: the archive ends inside a header');
    if (h.every((b) => b === 0)) break;
    const head = parseHeader(h);
    const { type } = head;
    if (TarExtensions.is(type)) {
      const data = await r.read(head.size);
      if (data.length < head.size) throw new Error('tar: the archive ends inside an entry');
      await r.skip(tarPadded(head.size) - head.size);
      ext.add(type, data);
      continue;
    }
    const o = ext.take();
    const name = o.path ?? head.name;
    const size = o.size ?? head.size;
    const regular = type === '0' || type === '7';
    const sink = regular ? onEntry({ name, size, type }) : undefined;
    const content = contentSize(type, size);
    if (sink) {
      for await (const piece of r.pieces(content)) await sink.write(piece);
      await sink.end();
    } else {
      await r.skip(content);
    }
    await r.skip(tarPadded(content) - content);
  }
  await r.drain();
}
