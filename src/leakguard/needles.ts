// What the leak guard looks for: every secret value, and each non-trivial line of a multi-line
// value, as bytes; a value or line too long to search whole is searched by slices of it. Pure: no I/O.

/**
 * Shorter byte strings are not searched. A random 20 MiB compressed layer holds any given 4-byte
 * string with a probability of about 0.5 %, and short words ("admin", "secret") sit in the text
 * files of every base image: a guard that searched for them would stop clean builds. From 8 bytes
 * on, a chance match in random data is below 1e-11 per 20 MiB and ordinary words are rare.
 */
export const MIN_NEEDLE_BYTES = 8;
/** Values and lines up to this length are searched whole; longer ones by SLICES_PER_LONG slices. */
export const MAX_NEEDLE_BYTES = 64 * 1024;
/**
 * Length of one slice of a longer value or line. A slice found in a blob means that this many
 * consecutive bytes of the secret are there: a leak of (at least part of) the secret. Random data
 * never holds 4 KiB of a real credential by chance; only a value that is mostly one repeated text
 * could match something else.
 */
export const SLICE_BYTES = 4 * 1024;
/**
 * Slices taken from a longer value or line, spread evenly from its first byte to its last: a copy
 * of the whole value holds all of them, and any copied part longer than the gap between two slice
 * starts plus SLICE_BYTES holds at least one.
 */
export const SLICES_PER_LONG = 4;
/** At most this many needles per secret (a large secret file is searched by its first lines). */
export const MAX_NEEDLES_PER_SECRET = 512;

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
  /** Ids of secrets the guard cannot look for: shorter than MIN_NEEDLE_BYTES (or empty). */
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
 * The needles for one piece (a whole value or a line): itself when it is at most MAX_NEEDLE_BYTES,
 * else SLICES_PER_LONG slices of SLICE_BYTES at evenly spread offsets, the first and the last
 * included. Bounded memory: at most SLICES_PER_LONG * SLICE_BYTES bytes for a piece of any length.
 */
export function piecesOf(piece: Buffer): Buffer[] {
  if (piece.length < MIN_NEEDLE_BYTES) return [];
  if (piece.length <= MAX_NEEDLE_BYTES) return [piece];
  const last = piece.length - SLICE_BYTES;
  const out: Buffer[] = [];
  for (let i = 0; i < SLICES_PER_LONG; i++) {
    const at = Math.round((last * i) / (SLICES_PER_LONG - 1));
    out.push(piece.subarray(at, at + SLICE_BYTES));
  }
  return out;
}

/**
 * Needles for a set of secrets: the value itself (byte-exact), and each line of it, trimmed of
 * surrounding white space, when that line is not a PEM armor line; each through piecesOf, so
 * nothing shorter than MIN_NEEDLE_BYTES, and slices of anything longer than MAX_NEEDLE_BYTES. A
 * value longer than MAX_NEEDLE_BYTES is searched by its lines; when none of them can be searched
 * (all short), by slices of the whole value. Duplicates are dropped. A secret is skipped only when
 * it is shorter than MIN_NEEDLE_BYTES.
 */
export function planNeedles(secrets: SecretValue[]): NeedlePlan {
  const needles: Needle[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const s of secrets) {
    let count = 0;
    /** Adds needles of this secret up to its cap; a needle another secret already has counts too. */
    const take = (bs: Buffer[]): void => {
      for (const bytes of bs) {
        if (count >= MAX_NEEDLES_PER_SECRET) return;
        const key = bytes.toString('base64');
        if (!seen.has(key)) {
          seen.add(key);
          needles.push({ id: s.id, bytes: Buffer.from(bytes) });
        }
        count++;
      }
    };
    const whole = s.value.length <= MAX_NEEDLE_BYTES;
    if (whole) take(piecesOf(s.value));
    for (const raw of splitLines(s.value)) {
      if (count >= MAX_NEEDLES_PER_SECRET) break;
      const line = trimBytes(raw);
      if (whole && line.length === s.value.length) continue;
      if (line.length <= 128 && ARMOR.test(line.toString('latin1'))) continue;
      take(piecesOf(line));
    }
    if (count === 0) take(piecesOf(s.value));
    if (count === 0) skipped.push(s.id);
  }
  return { needles, skipped };
}
