// Tar headers (ustar, pax and GNU long names), shared by the tar readers of the leak guard and the
// cache mount hash: the fields, the header block, the extension headers and the content's size.

/** A NUL-terminated string field. */
export function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

/** A number field: octal text, or base-256 when the first byte's high bit is set. */
export function tarNumber(field: Buffer, what = 'number'): number {
  if (field[0] & 0x80) {
    let v = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return v;
  }
  const s = cstr(field).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: bad ${what} field "${s}"`);
  return parseInt(s, 8);
}

/** The records of a pax extended header: `<len> <key>=<value>\n` each. */
export function parsePax(data: Buffer): Record<string, string> {
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

/** The size of a tar block: headers take one, content is padded to whole blocks. */
export const TAR_BLOCK = 512;

/** `n` bytes of content padded to whole blocks. */
export const tarPadded = (n: number) => Math.ceil(n / TAR_BLOCK) * TAR_BLOCK;

/** What every reader takes from a header block, before any extension header applies. */
export interface TarHeader {
  /** '0' regular file ('\0' and '7' read as '0' by the readers), '5' directory, 'x' pax, ... */
  type: string;
  name: string;
  size: number;
}

/** Reads the type, the name (with its ustar prefix) and the size of a header block. */
export function parseHeader(h: Buffer): TarHeader {
  const type = String.fromCharCode(h[156] || 0x30);
  const size = tarNumber(h.subarray(124, 136), 'size');
  let name = cstr(h.subarray(0, 100));
  // Only POSIX ustar has a name prefix; in the old GNU format these bytes hold other fields.
  if (h.subarray(257, 263).toString('latin1') === 'ustar\0') {
    const prefix = cstr(h.subarray(345, 500));
    if (prefix) name = `${prefix}/${name}`;
  }
  return { type, name, size };
}

/** How many content bytes follow an entry's header: none for links, devices, directories and FIFOs. */
export function contentSize(type: string, size: number): number {
  return NO_CONTENT.has(type) ? 0 : size;
}
const NO_CONTENT = new Set(['1', '2', '3', '4', '5', '6']);

/** What extension headers say about the entry after them; a field absent keeps the header's. */
export interface TarOverrides {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
}

const digits = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/**
 * The extension headers before an entry: pax records ('x'; global ones, 'g', are read and not
 * used) and GNU long names ('L') and long link targets ('K'). `take` hands them to the entry
 * that follows and forgets them.
 */
export class TarExtensions {
  private pax: Record<string, string> = {};
  private longName?: string;
  private longLink?: string;

  static is(type: string): boolean {
    return type === 'x' || type === 'g' || type === 'L' || type === 'K';
  }

  add(type: string, data: Buffer): void {
    if (type === 'x') this.pax = parsePax(data);
    if (type === 'L') this.longName = cstr(data);
    if (type === 'K') this.longLink = cstr(data);
  }

  take(): TarOverrides {
    const { pax, longName, longLink } = this;
    this.pax = {};
    this.longName = undefined;
    this.longLink = undefined;
    const out: TarOverrides = {};
    const path = pax.path || longName;
    const linkpath = pax.linkpath ?? longLink;
    if (path !== undefined) out.path = path;
    if (linkpath !== undefined) out.linkpath = linkpath;
    for (const k of ['size', 'uid', 'gid'] as const) {
      const n = digits(pax[k]);
      if (n !== undefined) out[k] = n;
    }
    return out;
  }
}
