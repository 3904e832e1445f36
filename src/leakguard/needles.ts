// What the leak guard looks for: every secret value, and each non-trivial line of a multi-line
// value, as bytes. Pure: no I/O.

/**
 * Shorter byte strings are not searched. A random 20 MiB compressed layer holds any given 4-byte
 * string with a probability of about 0.5 %, and short words ("admin", "secret") sit in the text
 * files of every base image: a guard that searched for them would stop clean builds. From 8 bytes
 * on, a chance match in random data is below 1e-11 per 20 MiB and ordinary words are rare.
 */
export const MIN_NEEDLE_BYTES = 8;
/** Whole values longer than this are searched by their lines only. */
export const MAX_NEEDLE_BYTES = 64 * 1024;
/** At most this many line needles per secret (a large secret file is searched by its first lines). */
export const MAX_LINES_PER_SECRET = 512;

export interface SecretValue {
  id: string;
  value: Buffer;
}

export interface Needle {
  /** The secret this needle belongs to. */
  id: string;
  bytes: Buffer;
}

export interface NeedlePlan {
  needles: Needle[];
  /** Ids of secrets the guard cannot look for (every needle would be shorter than MIN_NEEDLE_BYTES). */
  skipped: string[];
}

/** PEM armor lines (`-----BEGIN RSA PRIVATE KEY-----`) are the same in every key: not secret. */
const ARMOR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a || b === 0x0b || b === 0x0c;
}

function trimBytes(b: Buffer): Buffer {
  let s = 0;
  let e = b.length;
  while (s < e && isSpace(b[s])) s++;
  while (e > s && isSpace(b[e - 1])) e--;
  return b.subarray(s, e);
}

function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = b.indexOf(0x0a, start);
    if (nl < 0) {
      out.push(b.subarray(start));
      return out;
    }
    out.push(b.subarray(start, nl));
    start = nl + 1;
  }
}

/**
 * Needles for a set of secrets: the value itself (byte-exact, when at least MIN_NEEDLE_BYTES and at
 * most MAX_NEEDLE_BYTES), and each line of it, trimmed of surrounding white space, when that line is
 * at least MIN_NEEDLE_BYTES long and not a PEM armor line. Duplicates are dropped.
 */
export function planNeedles(secrets: SecretValue[]): NeedlePlan {
  const needles: Needle[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const add = (id: string, bytes: Buffer): boolean => {
    const key = bytes.toString('base64');
    if (seen.has(key)) return true;
    seen.add(key);
    needles.push({ id, bytes: Buffer.from(bytes) });
    return true;
  };
  for (const s of secrets) {
    let any = false;
    if (s.value.length >= MIN_NEEDLE_BYTES && s.value.length <= MAX_NEEDLE_BYTES) any = add(s.id, s.value);
    let lines = 0;
    for (const raw of splitLines(s.value)) {
      if (lines >= MAX_LINES_PER_SECRET) break;
      const line = trimBytes(raw);
      if (line.length < MIN_NEEDLE_BYTES || line.length > MAX_NEEDLE_BYTES) continue;
      if (ARMOR.test(line.toString('latin1'))) continue;
      lines++;
      any = add(s.id, line) || any;
    }
    if (!any) skipped.push(s.id);
  }
  return { needles, skipped };
}
