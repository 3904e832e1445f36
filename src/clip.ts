// Bounded quoting of user-supplied values in error messages: a value is shown by a short prefix at
// most, so a 100 KB tag or image name gives a one-line error of a few hundred characters. Pure.

/** Characters of a value shown in an error message; a longer value is cut here and ends with "…". */
export const QUOTE_MAX = 60;
/** Characters of a whole error line, as a last bound when a message quotes several values. */
export const MESSAGE_MAX = 400;

/** The first `max` characters of `s` (not splitting a surrogate pair), with "…" when cut. */
export function clip(s: string, max = QUOTE_MAX): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** A value in double quotes for an error message: newlines shown as \n, cut to QUOTE_MAX. */
export function quoted(s: string): string {
  return `"${clip(s.replace(/\r?\n/g, '\\n'))}"`;
}

/**
 * An error line bounded whatever it quotes: newlines become spaces, and the whole line is cut at
 * MESSAGE_MAX (a last bound; each value in it is quoted with `quoted`).
 */
export function boundMessage(message: string): string {
  return clip(message.replace(/\s*\r?\n\s*/g, ' '), MESSAGE_MAX);
}
