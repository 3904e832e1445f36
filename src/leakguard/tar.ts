// A minimal streaming tar reader (ustar, pax and GNU long names), enough for `docker save` output:
// each regular file's content is handed to a sink piece by piece, never held whole in memory.

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

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

function parseSize(field: Buffer): number {
  if (field[0] & 0x80) {
    // base-256: big-endian, the high bit of the first byte is the marker.
    let v = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return v;
  }
  const s = cstr(field).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: bad size field "${s}"`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(data.subarray(pos, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
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
    let size = parseSize(h.subarray(124, 136));
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
