// What may be saved of a cache export: the document BuildKit reported in the metadata file, with
// its blobs intact; anything else on disk is refused with a reason.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { checkExport, namedExportMismatch, reportedCacheDigest } from '../../src/cache/verify.js';
import { blobPath, renderCacheImage, writeLayoutMeta } from '../../src/cache/layout.js';
import type { CacheImage } from '../../src/cache/layout.js';

const digest = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const D = digest('x');

test.each<[string, Record<string, unknown>, string | undefined]>([
  [
    'BuildKit 0.13 and 0.25 write a JSON string',
    { 'cache.manifest': JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 903 }) },
    D,
  ],
  ['an object is read too', { 'cache.manifest': { digest: D } }, D],
  ['no cache export', { 'containerimage.digest': D }, undefined],
  ['not JSON', { 'cache.manifest': '{' }, undefined],
  ['not a sha256 digest', { 'cache.manifest': JSON.stringify({ digest: 'sha256:abc' }) }, undefined],
  ['no digest', { 'cache.manifest': JSON.stringify({ size: 3 }) }, undefined],
])('reportedCacheDigest: %s', (_name, md, want) => {
  expect(reportedCacheDigest(md)).toBe(want);
});

const LAYER = Buffer.from('a layer this build made');
const IMAGE: CacheImage = {
  config: { layers: [{ blob: digest(LAYER), parent: -1 }], records: [{ digest: 'sha256:r', layers: [{ layer: 0 }] }] },
  descriptors: { [digest(LAYER)]: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(LAYER), size: LAYER.length } },
};

async function exported(): Promise<{ dir: string; top: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-verify-'));
  await writeLayoutMeta(dir, IMAGE, 'manifest');
  await fs.writeFile(blobPath(dir, digest(LAYER)), LAYER);
  return { dir, top: renderCacheImage(IMAGE, 'manifest').listDigest };
}

test('the export BuildKit reported, intact, may be saved', async () => {
  const { dir, top } = await exported();
  expect(await namedExportMismatch(dir, top)).toBeUndefined();
  expect(await checkExport(dir, top)).toBeUndefined();
});

test('an export that names another document than the reported one is refused', async () => {
  const { dir } = await exported();
  expect(await checkExport(dir, D)).toMatch(/^the export on disk is sha256:[0-9a-f]{12}, but BuildKit reported sha256:2d711642b726$/);
});

test('a layout without index.json names no document', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-verify-'));
  expect(await checkExport(dir, D)).toBe('the export on disk names no cache document');
});

test('a changed document, config or layer is refused; a layer the service holds is not read', async () => {
  let { dir, top } = await exported();
  await fs.writeFile(blobPath(dir, top), '{}');
  expect(await checkExport(dir, top)).toMatch(/^the exported document sha256:\w+ does not match its digest$/);

  ({ dir, top } = await exported());
  const cfg = renderCacheImage(IMAGE, 'manifest').configDigest;
  await fs.writeFile(blobPath(dir, cfg), '{"layers":[],"records":[]}');
  expect(await checkExport(dir, top)).toMatch(/^the exported cache config sha256:\w+ is missing or does not match its digest$/);

  ({ dir, top } = await exported());
  await fs.writeFile(blobPath(dir, digest(LAYER)), 'an attacker layer');
  expect(await checkExport(dir, top)).toMatch(/^the exported blob sha256:\w+ does not match its digest$/);
  expect(await checkExport(dir, top, new Set([digest(LAYER)]))).toBeUndefined();
});
