// How list inputs are split (pure): one helper for every list input but metadata-action's (which
// reads its lists as CSV, see meta/list.ts).

/**
 * A list input: entries separated by newlines or commas, trimmed, empty ones dropped. With
 * `comments`, an entry starting with `#` is dropped too (build-push-action's List inputs); without,
 * it is kept, so that the input's own check names it.
 */
export function splitList(raw: string, opts: { comments?: boolean } = {}): string[] {
  return raw
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !(opts.comments && s.startsWith('#')));
}

/** A one-entry-a-line input: lines trimmed, blank ones and `#` comment lines dropped. */
export function lines(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
