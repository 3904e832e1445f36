// Pure planning of cache keys: the scope, the index entry's key and restore keys, and the keys of
// content-addressed blob entries.
import { createHash } from 'node:crypto';
import type { Context } from '../context.js';
import { defaultBranchOf, isPullRequestEvent } from '../context.js';

export const KEY_PREFIX = 'obc1';

export interface ScopeInput {
  cacheScope: string;
  images: string[];
  target: string;
  platforms: string[];
  file: string;
}

export interface SlugOptions {
  /** Also drop "." at the end, and "-" or "." left at the end by the cut to `max` (the mount slugs). */
  trimEnd?: boolean;
  /** What an empty slug becomes. */
  empty?: string;
}

/**
 * A key part that is also a safe path component: lowercase letters, digits, ".", "_" and "-",
 * never starting with "." or "-", so never "." or ".." (and no path separator survives); no "-"
 * at the end (nor "." with `trimEnd`), at most `max` characters.
 */
export function slug(s: string, max = 40, o: SlugOptions = {}): string {
  const end = o.trimEnd ? /[-.]+$/ : /-+$/;
  const v = s
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .replace(end, '')
    .slice(0, max);
  return (o.trimEnd ? v.replace(end, '') : v) || (o.empty ?? 'x');
}

/** The first `n` hex digits of the sha256 of `s`. */
export function shortHash(s: string, n = 8): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

/**
 * The cache scope: `cache-scope` when given, else one per image + target + platform set, so that
 * several images built in one repository never overwrite each other's cache.
 */
export function planScope(s: ScopeInput): string {
  if (s.cacheScope) return slug(s.cacheScope, 60);
  const image = s.images[0] ?? s.file ?? 'image';
  const name = image.split('/').pop()!.split(':')[0];
  const identity = JSON.stringify([s.images[0] ?? '', s.file, s.target, [...s.platforms].sort()]);
  return `${slug(name, 30)}${s.target ? '-' + slug(s.target, 20) : ''}-${shortHash(identity)}`;
}

/** The branches whose caches this run may start from, in order. */
export function fallbackBranches(ctx: Context): string[] {
  const out: string[] = [];
  const push = (b: string | undefined) => {
    if (b && !out.includes(b)) out.push(b);
  };
  if (isPullRequestEvent(ctx.eventName)) {
    push(ctx.headRef || ctx.payload?.pull_request?.head?.ref);
    push(ctx.baseRef || ctx.payload?.pull_request?.base?.ref);
  } else if (ctx.ref.startsWith('refs/heads/')) {
    push(ctx.ref.slice('refs/heads/'.length));
  } else if (ctx.eventName === 'merge_group') {
    push(ctx.payload?.merge_group?.base_ref?.replace(/^refs\/heads\//, ''));
  }
  push(defaultBranchOf(ctx));
  return out;
}

export interface IndexKeys {
  primary: string;
  restore: string[];
}

/** The index entry's key for this run, and the restore keys to fall back on. */
export function planIndexKeys(scope: string, ctx: Context): IndexKeys {
  const branches = fallbackBranches(ctx);
  const own = isPullRequestEvent(ctx.eventName)
    ? `pr-${ctx.payload?.pull_request?.number ?? ctx.refName.split('/')[0]}`
    : ctx.ref.startsWith('refs/tags/')
      ? `tag-${ctx.ref.slice('refs/tags/'.length)}`
      : (branches[0] ?? 'detached');
  const base = `${KEY_PREFIX}-idx-${scope}-`;
  const primary = `${base}${slug(own, 60)}-${ctx.sha || 'nosha'}`;
  const restore = [slug(own, 60), ...branches.map((b) => slug(b, 60))].filter((b, i, all) => all.indexOf(b) === i).map((b) => `${base}${b}-`);
  return { primary, restore };
}

/**
 * The index lookup: this commit's newest alternate index first (saved when a worse index already
 * held the primary key), then the primary key itself, then the newest index of each branch. The
 * cache service prefix-matches the lookup key too, and no entry is keyed `<primary>-` itself.
 */
export function indexLookup(keys: IndexKeys): { key: string; restoreKeys: string[] } {
  return { key: `${keys.primary}-`, restoreKeys: [keys.primary, ...keys.restore] };
}

/** True when `key` is an index key of this commit: the primary key or one of its alternates. */
export function isCommitIndexKey(keys: IndexKeys, key: string | undefined): boolean {
  return !!key && (key === keys.primary || alternateNumber(keys, key) !== undefined);
}

function alternateNumber(keys: IndexKeys, key: string): number | undefined {
  const m = /^-(\d{1,6})$/.exec(key.startsWith(keys.primary) ? key.slice(keys.primary.length) : '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The key a save of this commit's index uses: the primary key while the service holds no index of
 * this commit, else the alternate after the newest one it holds (`<primary>-2`, `-3`, ...), so that
 * both the lookup of this commit and the branch's restore key find it as the newest.
 */
export function nextIndexKey(keys: IndexKeys, held: string | undefined): string {
  if (!held || !isCommitIndexKey(keys, held)) return keys.primary;
  return `${keys.primary}-${(alternateNumber(keys, held) ?? 1) + 1}`;
}

/** Key of an entry that holds one blob, by its digest: shared by every scope and branch. */
export function blobKey(digest: string): string {
  return `${KEY_PREFIX}-blob-${digest.replace(':', '-')}`;
}

/** Key of an entry that holds several blobs, derived from their digests. */
export function packKey(digests: string[]): string {
  return `${KEY_PREFIX}-pack-sha256-${createHash('sha256')
    .update([...digests].sort().join('\n'))
    .digest('hex')}`;
}

/**
 * Splits new large blobs into at most `maxEntries` entries: one entry each while they fit, else
 * packs balanced by size (largest first into the lightest pack).
 */
export function planPacks(blobs: { digest: string; size: number }[], maxEntries: number): { key: string; digests: string[] }[] {
  if (blobs.length === 0) return [];
  if (blobs.length <= maxEntries) return blobs.map((b) => ({ key: blobKey(b.digest), digests: [b.digest] }));
  const packs = Array.from({ length: maxEntries }, () => ({ size: 0, digests: [] as string[] }));
  for (const b of [...blobs].sort((x, y) => y.size - x.size || x.digest.localeCompare(y.digest))) {
    const lightest = packs.reduce((a, p) => (p.size < a.size ? p : a));
    lightest.size += b.size;
    lightest.digests.push(b.digest);
  }
  return packs
    .filter((p) => p.digests.length)
    .map((p) => {
      const digests = [...p.digests].sort();
      return { key: digests.length === 1 ? blobKey(digests[0]) : packKey(digests), digests };
    });
}
