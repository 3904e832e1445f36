// What may be saved of a cache export: only the document BuildKit reported in the build's metadata
// file (`cache.manifest`), with every blob of it that this run would upload intact. An export that
// differs (written by something other than this build, or changed on disk before post) is not saved.
import { promises as fs } from 'node:fs';
import { blobPath, exists, layoutTop, parseCacheDocument, verifyBlob, verifyBlobs } from './layout.js';

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/**
 * The digest of the cache document BuildKit says it exported, from the build's metadata file;
 * undefined when it reported none (no cache export, or an export that failed with ignore-error).
 */
export function reportedCacheDigest(md: Record<string, unknown>): string | undefined {
  let v: unknown = md['cache.manifest'];
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  const digest = (v as { digest?: unknown } | undefined)?.digest;
  return typeof digest === 'string' && DIGEST_RE.test(digest) ? digest : undefined;
}

/** Why the layout in `dir` is not the export BuildKit reported, or undefined when it is. */
export async function namedExportMismatch(dir: string, expected: string): Promise<string | undefined> {
  const named = await layoutTop(dir);
  if (!named) return 'the export on disk names no cache document';
  if (named !== expected) return `the export on disk is ${named.slice(0, 19)}, but BuildKit reported ${expected.slice(0, 19)}`;
  return undefined;
}

/**
 * Checks the export in `dir` against the digest BuildKit reported: the layout names that document,
 * the document and its config hash to their digests, and so does every blob of it that is on disk
 * and not in `skip` (blobs the cache service already holds are not uploaded, so not read).
 * Returns why the export must not be saved, or undefined when it may.
 */
export async function checkExport(dir: string, expected: string, skip: ReadonlySet<string> = new Set()): Promise<string | undefined> {
  const mismatch = await namedExportMismatch(dir, expected);
  if (mismatch) return mismatch;
  const file = blobPath(dir, expected);
  if (!(await verifyBlob(file, expected))) return `the exported document ${expected.slice(0, 19)} does not match its digest`;
  let doc;
  try {
    doc = parseCacheDocument(await fs.readFile(file), 'the exported document');
  } catch (err) {
    return (err as Error).message;
  }
  if (!(await verifyBlob(blobPath(dir, doc.config.digest), doc.config.digest)))
    return `the exported cache config ${doc.config.digest.slice(0, 19)} is missing or does not match its digest`;
  // Hashed side by side, one per core (see fileDigests): a missing blob is not uploaded, so not checked.
  const blobs: { file: string; digest: string }[] = [];
  for (const layer of doc.layers) {
    if (skip.has(layer.digest)) continue;
    const file = blobPath(dir, layer.digest);
    if (await exists(file)) blobs.push({ file, digest: layer.digest });
  }
  const ok = await verifyBlobs(blobs);
  const first = blobs.find((_, i) => !ok[i]);
  return first ? `the exported blob ${first.digest.slice(0, 19)} does not match its digest` : undefined;
}
