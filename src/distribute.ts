// Distribute mode: each platform built by its own job and pushed by digest, the digest handed over
// through the Actions cache service, and a merge job that joins them into one image index under
// every computed tag. Pure planning: keys, the build output, the merge commands, index parsing.
import { createHash } from 'node:crypto';
import { KEY_PREFIX, slug } from './cache/keys.js';

export type DistributeMode = 'off' | 'platform' | 'merge';

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * The cache key of one platform's digest: run id, run attempt, image set and platform. Another
 * attempt of the run, another image or another platform never reads it. Each variable part ends
 * with a hash, so no key is a prefix of another (linux/arm and linux/arm64).
 */
export function digestKey(o: { runId: string; runAttempt: string; images: string[]; platform: string }): string {
  const image = (o.images[0] ?? 'image').split('/').pop()!.split(':')[0];
  const p = normalizePlatform(o.platform);
  return `${KEY_PREFIX}-dist-${slug(o.runId, 24)}-${slug(o.runAttempt, 8)}-${slug(image, 30)}-${short(o.images.join('\n'))}-${slug(p, 30)}-${short(p)}`;
}

/** The buildx output of a platform job: pushed by digest only, under no tag. */
export function digestOutput(images: string[]): string {
  return `type=image,"name=${images.join(',')}",push-by-digest=true,name-canonical=true,push=true`;
}

/**
 * The annotations of the index: `imagetools create` takes only index-level (and
 * manifest-descriptor) annotations, so manifest-level and unprefixed ones become index ones; once each.
 */
export function indexAnnotations(annotations: string[]): string[] {
  const out: string[] = [];
  for (const a of annotations) {
    const m = /^(index|manifest|manifest-descriptor|index-descriptor)(\[[^\]]*\])?:(.*)$/.exec(a);
    const level = m?.[1] ?? '';
    const rest = m ? m[3] : a;
    if (level === 'index-descriptor') continue;
    const v = level === 'index' || level === 'manifest-descriptor' ? `${level}${m![2] ?? ''}:${rest}` : `index:${rest}`;
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** The tags of `image` among full references `image:tag`. */
export function tagsOf(image: string, tags: string[]): string[] {
  return tags.filter((t) => t.startsWith(`${image}:`) && !t.slice(image.length + 1).includes('/'));
}

/**
 * One `docker buildx imagetools create` per image: every tag of it, the index annotations, and the
 * platform images by digest in the order of `platforms`. An image without tags gets no index.
 */
export function mergeCommands(o: {
  images: string[];
  tags: string[];
  annotations: string[];
  platforms: string[];
  digests: Record<string, string>;
}): { image: string; tags: string[]; argv: string[] }[] {
  const ann = indexAnnotations(o.annotations);
  return o.images
    .map((image) => ({ image, tags: tagsOf(image, o.tags) }))
    .filter((x) => x.tags.length > 0)
    .map(({ image, tags }) => ({
      image,
      tags,
      argv: [
        'buildx',
        'imagetools',
        'create',
        ...tags.flatMap((t) => ['--tag', t]),
        ...ann.flatMap((a) => ['--annotation', a]),
        ...o.platforms.map((p) => `${image}@${o.digests[p]}`),
      ],
    }));
}

/** `linux/arm/v7` from an OCI platform object. */
function platformString(p: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (!p?.os || !p.architecture) return '';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Platform -> manifest digest of an image index (attestation manifests left out). */
export function platformDigests(index: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const ms = (index as { manifests?: unknown[] })?.manifests;
  if (!Array.isArray(ms)) return out;
  for (const m of ms as { digest?: string; platform?: any; annotations?: Record<string, string> }[]) {
    if (m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const p = platformString(m.platform);
    if (!p || p.startsWith('unknown/') || typeof m.digest !== 'string') continue;
    if (!(p in out)) out[p] = m.digest;
  }
  return out;
}

/**
 * The key a platform given as input has in an index: lowercase, aliases as containerd normalizes
 * them, and arm64's default variant v8 dropped (`linux/arm64/v8` is `linux/arm64`).
 */
export function normalizePlatform(p: string): string {
  const parts = p.toLowerCase().split('/');
  const alias: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };
  if (parts[1]) parts[1] = alias[parts[1]] ?? parts[1];
  if (parts[1] === 'arm64' && parts[2] === 'v8') parts.length = 2;
  if (parts[1] === 'amd64' && parts[2] === 'v1') parts.length = 2;
  return parts.join('/');
}

/** The platform entries of a digest hand-over file; undefined when it is not one. */
export interface HandedDigest {
  platform: string;
  digest: string;
  images: string[];
  runId: string;
  runAttempt: string;
}

export function parseHandedDigest(text: string): HandedDigest | undefined {
  try {
    const v = JSON.parse(text);
    if (typeof v?.platform !== 'string' || typeof v?.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v.digest)) return undefined;
    return {
      platform: v.platform,
      digest: v.digest,
      images: Array.isArray(v.images) ? v.images.map(String) : [],
      runId: String(v.runId ?? ''),
      runAttempt: String(v.runAttempt ?? ''),
    };
  } catch {
    return undefined;
  }
}
