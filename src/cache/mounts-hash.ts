// The content hash of a cache mount, from the tar the extract helper made: every entry's path,
// type, permission bits, numeric owner, link target and content, in path order. Modification
// times, owner names and the archive's entry order are left out, so a mount whose files were only
// touched (Go's build cache marks used entries this way) or listed in another order hashes the same.
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { cstr, parsePax, tarNumber } from '../tar-fields.js';

export interface TarDigest {
  /** sha256 (hex) over the entries, independent of their order in the archive. */
  hash: string;
  /** Entries other than the root directory. */
  entries: number;
  /** Regular files and their total size. */
  files: number;
  bytes: number;
}

const BLOCK = 512;
const CHUNK = 1 << 20;


/** `./a/b/` -> `a/b`; the root (`./`) -> ''. */
export function normalizeName(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\.$/, '').replace(/\/+$/, '');
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** Hashes a tar file (ustar, GNU long names and pax headers); throws on a truncated archive. */
export async function hashTar(file: string): Promise<TarDigest> {
  const fh = await fs.open(file, 'r');
  try {
    const total = (await fh.stat()).size;
    const read = async (pos: number, len: number): Promise<Buffer> => {
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(b, got, len - got, pos + got);
        if (bytesRead === 0) throw new Error('tar: the archive ends inside an entry');
        got += bytesRead;
      }
      return b;
    };
    const lines: string[] = [];
    let files = 0;
    let bytes = 0;
    let pos = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Record<string, string> = {};
    while (pos + BLOCK <= total) {
      const h = await read(pos, BLOCK);
      pos += BLOCK;
      if (h.every((b) => b === 0)) break;
      const type = String.fromCharCode(h[156] || 0x30);
      let size = tarNumber(h.subarray(124, 136));
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        const data = await read(pos, size);
        pos += padded(size);
        if (type === 'x') pax = parsePax(data);
        if (type === 'L') longName = cstr(data);
        if (type === 'K') longLink = cstr(data);
        continue;
      }
      let name = cstr(h.subarray(0, 100));
      // Only POSIX ustar has a name prefix; in the old GNU format these bytes hold other fields.
      if (h.subarray(257, 263).toString('latin1') === 'ustar\0') {
        const prefix = cstr(h.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      let link = cstr(h.subarray(157, 257));
      let uid = tarNumber(h.subarray(108, 116));
      let gid = tarNumber(h.subarray(116, 124));
      name = pax.path ?? longName ?? name;
      link = pax.linkpath ?? longLink ?? link;
      if (pax.size && /^\d+$/.test(pax.size)) size = Number(pax.size);
      if (pax.uid && /^\d+$/.test(pax.uid)) uid = Number(pax.uid);
      if (pax.gid && /^\d+$/.test(pax.gid)) gid = Number(pax.gid);
      pax = {};
      longName = undefined;
      longLink = undefined;
      const mode = tarNumber(h.subarray(100, 108)) & 0o7777;
      const kind = type === '\0' || type === '7' ? '0' : type;
      const content = kind === '0' || kind === 'S' ? size : kind === '1' || kind === '2' || kind === '5' || kind === '3' || kind === '4' || kind === '6' ? 0 : size;
      const dev = kind === '3' || kind === '4' ? `${tarNumber(h.subarray(329, 337))},${tarNumber(h.subarray(337, 345))}` : '';
      const digest = createHash('sha256');
      for (let off = 0; off < content; off += CHUNK) digest.update(await read(pos + off, Math.min(CHUNK, content - off)));
      pos += padded(content);
      const n = normalizeName(name);
      if (kind === '0') {
        files++;
        bytes += size;
      }
      lines.push(JSON.stringify([n, kind, mode, uid, gid, link, kind === '0' ? size : 0, dev, content ? digest.digest('hex') : '']));
    }
    lines.sort();
    const all = createHash('sha256');
    for (const l of lines) all.update(`${l}\n`);
    const entries = lines.filter((l) => !l.startsWith('["",')).length;
    return { hash: all.digest('hex'), entries, files, bytes };
  } finally {
    await fh.close();
  }
}
