// The loopback registry over real HTTP: uploads in pieces are verified by digest and land in the
// export layout; the offered cache is served by tag and digest; a blob the service holds is fetched
// only when asked for, and a failed fetch is a 404 that is recorded.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { startCacheProxy, PROXY_REPO } from '../../src/cache/proxy.js';
import { blobPath, linkBlob, readLayout, renderCacheImage } from '../../src/cache/layout.js';
import type { CacheImage } from '../../src/cache/layout.js';

const digest = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const LAYER = Buffer.from('layer bytes held by the cache service');
const IMAGE: CacheImage = {
  config: { layers: [{ blob: digest(LAYER), parent: -1 }], records: [{ digest: 'sha256:r', layers: [{ layer: 0 }] }] },
  descriptors: { [digest(LAYER)]: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(LAYER), size: LAYER.length } },
};

async function proxyFor(image: CacheImage | undefined, fetchOk: boolean) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-proxy-'));
  const src = path.join(dir, 'held');
  await fs.writeFile(src, LAYER);
  const fetched: string[] = [];
  const proxy = await startCacheProxy(
    {
      image,
      localPath: async () => undefined,
      held: (d) => d === digest(LAYER),
      fetch: async (d) => (fetched.push(d), fetchOk ? src : undefined),
    },
    path.join(dir, 'out'),
  );
  return { proxy, fetched, base: `http://${proxy.host}/v2/${PROXY_REPO}` };
}

test('a blob uploaded in pieces is verified and lands in the export; a wrong digest is refused', async () => {
  const { proxy, base } = await proxyFor(undefined, true);
  try {
    const body = Buffer.from('a new layer, uploaded in two pieces');
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const loc = start.headers.get('location')!;
    expect((await fetch(`http://${proxy.host}${loc}`, { method: 'PATCH', body: body.subarray(0, 10) })).headers.get('range')).toBe('0-9');
    const put = await fetch(`http://${proxy.host}${loc}?digest=${encodeURIComponent(digest(body))}`, { method: 'PUT', body: body.subarray(10) });
    expect(put.status).toBe(201);
    expect(await fs.readFile(blobPath(proxy.exportDir, digest(body)))).toEqual(body);
    expect(proxy.stats).toMatchObject({ uploads: 1, bytesUploaded: body.length });

    const bad = await fetch(`${base}/blobs/uploads/?digest=${encodeURIComponent(digest('something else'))}`, { method: 'POST', body });
    expect(bad.status).toBe(400);
    expect(proxy.stats.uploads).toBe(1);
  } finally {
    await proxy.close();
  }
});

test('the exported manifest list becomes the export layout that readLayout reads', async () => {
  const { proxy, base } = await proxyFor(undefined, true);
  try {
    const r = renderCacheImage(IMAGE);
    await fetch(`${base}/blobs/uploads/?digest=${encodeURIComponent(r.configDigest)}`, { method: 'POST', body: r.config });
    expect((await fetch(`${base}/manifests/out`, { method: 'PUT', body: r.list })).status).toBe(201);
    const layout = await readLayout(proxy.exportDir);
    expect(layout?.config).toEqual(IMAGE.config);
    expect(Object.keys(layout!.descriptors)).toEqual([digest(LAYER)]);
  } finally {
    await proxy.close();
  }
});

test('the offered cache: manifest by tag and digest; a held blob is fetched only on GET; a failed fetch is a 404', async () => {
  const ok = await proxyFor(IMAGE, true);
  try {
    const r = renderCacheImage(IMAGE);
    const m = await fetch(`${ok.base}/manifests/in`);
    expect(m.headers.get('docker-content-digest')).toBe(r.listDigest);
    expect(Buffer.from(await m.arrayBuffer())).toEqual(r.list);
    expect((await fetch(`${ok.base}/manifests/${r.listDigest}`)).status).toBe(200);
    const head = await fetch(`${ok.base}/blobs/${digest(LAYER)}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(ok.fetched).toEqual([]);
    const get = await fetch(`${ok.base}/blobs/${digest(LAYER)}`);
    expect(Buffer.from(await get.arrayBuffer())).toEqual(LAYER);
    expect(ok.fetched).toEqual([digest(LAYER)]);
    expect((await fetch(`${ok.base}/blobs/${digest('unknown')}`)).status).toBe(404);
  } finally {
    await ok.proxy.close();
  }
  const failing = await proxyFor(IMAGE, false);
  try {
    expect((await fetch(`${failing.base}/blobs/${digest(LAYER)}`)).status).toBe(404);
    expect(failing.proxy.stats.fetchFailures).toEqual([digest(LAYER)]);
  } finally {
    await failing.proxy.close();
  }
});

test('linkBlob onto the same path keeps the blob (it used to delete it)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-link-'));
  const d = digest(LAYER);
  await fs.mkdir(path.dirname(blobPath(dir, d)), { recursive: true });
  await fs.writeFile(blobPath(dir, d), LAYER);
  await linkBlob(blobPath(dir, d), dir, d);
  expect(await fs.readFile(blobPath(dir, d))).toEqual(LAYER);
  const other = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-link-'));
  await linkBlob(blobPath(dir, d), other, d);
  expect(await fs.readFile(blobPath(other, d))).toEqual(LAYER);
});
