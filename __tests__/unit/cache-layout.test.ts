// Both cache export forms, on real exports kept as fixtures (scripts/fixtures/capture-cache-export.sh):
// BuildKit v0.13 (Docker 26.1) writes the image index form, BuildKit v0.25 (Docker 28.5) the image
// manifest form. Each is read, rendered in either form and read back, merged, and sent through the
// loopback registry as BuildKit sends it; documents of neither form are refused with what they are.
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CacheFormatError, blobPath, parseCacheDocument, readLayout, renderCacheImage, writeLayoutMeta } from '../../src/cache/layout.js';
import type { CacheForm, ExportedCache } from '../../src/cache/layout.js';
import { blobsOf, mergeConfigs, recordsWithResults, referencedBlobs } from '../../src/cache/merge.js';
import { PROXY_REPO, startCacheProxy } from '../../src/cache/proxy.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/cache-exports');
const EXPECTED: Record<string, CacheForm> = { 'buildkit-0.13-index': 'index', 'buildkit-0.25-manifest': 'manifest' };
const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'obc-layout-'));

test('the fixtures hold one real export of each form', () => {
  expect(readdirSync(FIXTURES).sort()).toEqual(Object.keys(EXPECTED).sort());
  for (const name of Object.keys(EXPECTED)) expect(readFileSync(path.join(FIXTURES, name, 'TOOLCHAIN.txt'), 'utf8')).toMatch(/buildx/);
});

describe.each(Object.entries(EXPECTED))('%s', (name, form) => {
  const dir = path.join(FIXTURES, name);
  let exported: ExportedCache;
  beforeAll(async () => {
    exported = (await readLayout(dir))!;
  });

  test(`readLayout finds the ${form} form, the records and a descriptor for every blob`, () => {
    expect(exported.form).toBe(form);
    expect(exported.config.records.length).toBeGreaterThan(3);
    expect(recordsWithResults(exported.config).size).toBeGreaterThan(0);
    for (const d of blobsOf(exported.config)) expect(exported.descriptors[d]).toMatchObject({ digest: d, mediaType: expect.stringMatching(/layer/) });
  });

  test.each<CacheForm>(['index', 'manifest'])('rendered in the %s form and read back, it is the same cache', async (to) => {
    const out = await tmp();
    await writeLayoutMeta(out, exported, to);
    const back = (await readLayout(out))!;
    expect(back.form).toBe(to);
    expect(back.config).toEqual(exported.config);
    expect(back.descriptors).toEqual(Object.fromEntries(exported.config.layers.map((l) => [l.blob, exported.descriptors[l.blob]])));
    const doc = parseCacheDocument(renderCacheImage(exported, to).list, 'rendered');
    expect(doc.layers.map((l) => l.digest)).toEqual(exported.config.layers.map((l) => l.blob));
  });

  test('merging the export with itself keeps every record and every result', () => {
    const merged = mergeConfigs(exported.config, exported.config, blobsOf(exported.config));
    expect(new Set(merged.records.map((r) => r.digest))).toEqual(new Set(exported.config.records.map((r) => r.digest)));
    expect(recordsWithResults(merged)).toEqual(recordsWithResults(exported.config));
    expect(referencedBlobs(merged)).toEqual(referencedBlobs(exported.config));
  });

  test('PUT to the loopback registry as BuildKit does, it becomes the same export layout', async () => {
    const top = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests[0];
    const body = readFileSync(blobPath(dir, top.digest));
    const proxy = await startCacheProxy({ localPath: async () => undefined, fetch: async () => undefined, held: () => false }, path.join(await tmp(), 'out'), {
      form,
    });
    const auth = { authorization: 'Basic ' + Buffer.from(`${proxy.credentials.username}:${proxy.credentials.password}`).toString('base64') };
    try {
      const cfg = parseCacheDocument(body, name).config;
      const cfgBytes = readFileSync(blobPath(dir, cfg.digest));
      const base = `http://${proxy.host}/v2/${PROXY_REPO}`;
      expect((await fetch(`${base}/blobs/uploads/?digest=${encodeURIComponent(cfg.digest)}`, { method: 'POST', body: cfgBytes, headers: auth })).status).toBe(
        201,
      );
      const put = await fetch(`${base}/manifests/out`, { method: 'PUT', body, headers: { ...auth, 'content-type': top.mediaType } });
      expect(put.status).toBe(201);
      expect(put.headers.get('docker-content-digest')).toBe(top.digest);
      const got = (await readLayout(proxy.exportDir))!;
      expect(got).toEqual(exported);
      expect(proxy.stats.exportForm).toBe(form);
    } finally {
      await proxy.close();
    }
  });
});

describe('documents of neither form are a CacheFormatError that says what they are', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  test.each<[string, unknown, string]>([
    [
      'an image manifest of an image',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 2 },
        layers: [],
      },
      'x is an image manifest whose config is application/vnd.oci.image.config.v1+json, not a BuildKit cache config',
    ],
    [
      'an index of images',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('b'), size: 3 }],
      },
      'x is an image index without a cache config (1 entries; not a BuildKit cache export)',
    ],
    [
      'an artifact',
      { schemaVersion: 2, mediaType: 'application/vnd.oci.artifact.manifest.v1+json', blobs: [] },
      'x is neither an image index nor an image manifest (media type application/vnd.oci.artifact.manifest.v1+json)',
    ],
  ])('%s', (_n, doc, message) => {
    expect(() => parseCacheDocument(JSON.stringify(doc), 'x')).toThrow(new CacheFormatError(message));
  });

  test('not JSON', () => expect(() => parseCacheDocument('{', 'x')).toThrow(new CacheFormatError('x is not JSON')));

  test('readLayout of an export whose top document is missing names the digest', async () => {
    const dir = await tmp();
    await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify({ manifests: [{ digest: d('c') }] }));
    await expect(readLayout(dir)).rejects.toThrow(`the cache export in ${dir} names sha256:cccccccccccc, which is not in it`);
  });

  test('no export at all is undefined, not an error', async () => {
    expect(await readLayout(await tmp())).toBeUndefined();
  });
});
