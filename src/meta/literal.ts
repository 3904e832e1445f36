// Full image references in `tags`, the way docker/build-push-action takes them
// (`ghcr.io/acme/app:1.0`): taken literally, beside the metadata-action rules. A rule never
// contains "/" or ":" outside a `key=value` field, so a line without "=" or "{{" that has "/" or
// ":" is a reference, not a raw tag value (which metadata-action would have sanitized into
// `ghcr.io-acme-app-1.0`). Pure.
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import { IMAGE_NAME_RE } from './images.js';

interface LiteralRef {
  /** The image name, e.g. `ghcr.io/acme/app`. */
  name: string;
  /** The tag, e.g. `1.0` (`latest` when the reference has none, as Docker reads it). */
  tag: string;
}

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Whether a `tags` line (or one comma-separated part of it) is written as a full image reference. */
export function looksLikeReference(part: string): boolean {
  const p = part.trim();
  return p !== '' && !p.startsWith('#') && !p.includes('=') && !p.includes('{{') && (p.includes('/') || p.includes(':'));
}

/** Parses `name[:tag]`; a digest, an upper-case name or a bad tag is an error naming `tags`. */
export function parseReference(text: string): LiteralRef {
  const t = text.trim();
  if (t.includes('@')) throw new InputError('tags', `${quoted(t)} is a digest reference: a tag to push is name:tag (e.g. ghcr.io/acme/app:1.0)`);
  const slash = t.lastIndexOf('/');
  const colon = t.lastIndexOf(':');
  const [name, tag] = colon > slash ? [t.slice(0, colon), t.slice(colon + 1)] : [t, 'latest'];
  if (name !== name.toLowerCase())
    throw new InputError(
      'tags',
      `image name ${quoted(name)} in ${quoted(t)} has upper-case letters (Docker refuses them: write ${quoted(name.toLowerCase())})`,
    );
  if (!IMAGE_NAME_RE.test(name))
    throw new InputError('tags', `${quoted(t)} is neither a tag rule nor a full image reference (name:tag, e.g. ghcr.io/acme/app:1.0)`);
  if (!TAG_RE.test(tag))
    throw new InputError(
      'tags',
      `tag ${quoted(tag)} of ${quoted(t)} is not a valid Docker tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`,
    );
  return { name, tag };
}

/**
 * Splits the `tags` input into metadata-action rules (the text left, line by line) and literal
 * references. A line is literal when every comma-separated part of it looks like a reference; a
 * line that mixes a reference with something else is an error that says what to write.
 */
export function splitLiteralRefs(tags: string): { rules: string; refs: LiteralRef[] } {
  const kept: string[] = [];
  const refs: LiteralRef[] = [];
  for (const line of tags.split(/\r?\n/)) {
    const parts = line.split(',').filter((p) => p.trim() !== '');
    const literal = parts.filter(looksLikeReference);
    if (literal.length === 0) {
      kept.push(line);
      continue;
    }
    if (literal.length !== parts.length) {
      throw new InputError(
        'tags',
        `${quoted(line.trim())} mixes a full image reference with something else: put each reference (name:tag) or rule on its own line`,
      );
    }
    for (const p of literal) refs.push(parseReference(p));
  }
  return { rules: kept.join('\n'), refs };
}
