// The content hash of a cache mount, from the tar the extract helper made: every entry's path,
// type, permission bits, numeric owner, link target and content, in path order. Modification
// times, owner names and the archive's entry order are left out, so a mount whose files were only
// touched (Go's build cache marks used entries this way) or listed in another order hashes the same.
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { TAR_BLOCK, TarExtensions, contentSize, cstr, parseHeader, tarNumber, tarPadded } from '../tar-fields.js';
import type { TarHeader, TarOverrides } from '../tar-fields.js';

export interface TarDigest {
  /** sha256 (hex) over the entries, independent of their order in the archive. */
  hash: string;
  /** Entries other than the root directory. */
  entries: number;
  /** Regular files and their total size. */
  files: number;
  bytes: number;
}

const CHUNK = 1 << 20;

/** `./a/b/` -> `a/b`; the root (`./`) -> ''. */
export function normalizeName(name: string): string {
  return name
    .replace(/^(\.\/)+/, '')
    .replace(/^\.$/, '')
    .replace(/\/+$/, '');
}

/** What the hash takes of one entry: its header's fields with the extension headers applied. */
interface HashedEntry {
  name: string;
  /** The type, with '7' (contiguous file) as '0'. */
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  link: string;
  size: number;
  /** `major,minor` of a device, else ''. */
  dev: string;
  /** Bytes of content that follow the header. */
  content: number;
}

function entryOf(h: Buffer, head: TarHeader, o: TarOverrides): HashedEntry {
  const kind = head.type === '\0' || head.type === '7' ? '0' : head.type;
  const link = cstr(h.subarray(157, 257));
  // Every numeric field is read, also those an extension header replaces: a bad one fails the hash.
  const uid = tarNumber(h.subarray(108, 116));
  const gid = tarNumber(h.subarray(116, 124));
  const mode = tarNumber(h.subarray(100, 108)) & 0o7777;
  const size = o.size ?? head.size;
  return {
    name: o.path ?? head.name,
    kind,
    mode,
    uid: o.uid ?? uid,
    gid: o.gid ?? gid,
    link: o.linkpath ?? link,
    size,
    dev: kind === '3' || kind === '4' ? `${tarNumber(h.subarray(329, 337))},${tarNumber(h.subarray(337, 345))}` : '',
    content: contentSize(kind, size),
  };
}

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
    const ext = new TarExtensions();
    while (pos + TAR_BLOCK <= total) {
      const h = await read(pos, TAR_BLOCK);
      pos += TAR_BLOCK;
      if (h.every((b) => b === 0)) break;
      const head = parseHeader(h);
      if (TarExtensions.is(head.type)) {
        ext.add(head.type, await read(pos, head.size));
        pos += tarPadded(head.size);
        continue;
      }
      const e = entryOf(h, head, ext.take());
      const digest = createHash('sha256');
      for (let off = 0; off < e.content; off += CHUNK) digest.update(await read(pos + off, Math.min(CHUNK, e.content - off)));
      pos += tarPadded(e.content);
      if (e.kind === '0') {
        files++;
        bytes += e.size;
      }
      lines.push(
        JSON.stringify([
          normalizeName(e.name),
          e.kind,
          e.mode,
          e.uid,
          e.gid,
          e.link,
          e.kind === '0' ? e.size : 0,
          e.dev,
          e.content ? digest.digest('hex') : '',
        ]),
      );
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
