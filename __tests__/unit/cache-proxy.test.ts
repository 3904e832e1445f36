// The loopback registry over real HTTP: every request needs the run's credential; uploads in pieces
// are verified by digest and land in the export layout; an export of either cache form becomes a
// layout readLayout reads; the offered cache is served by tag and digest in the chosen form; a blob
// the service holds is fetched only when asked for, and a failed fetch is a 404 that is recorded.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { startCacheProxy, PROXY_REPO, authorized } from '../../src/cache/proxy.js';
import type { CacheForm } from '../../src/cache/layout.js';
import { blobPath, linkBlob, readLayout, renderCacheImage } from '../../src/cache/layout.js';
import type { CacheImage } from '../../src/cache/layout.js';

const digest = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const LAYER = Buffer.from('layer bytes held by the cache service');
const IMAGE: CacheImage = {
  config: { layers: [{ blob: digest(LAYER), parent: -1 }], records: [{ digest: 'sha256:r', layers: [{ layer: 0 }] }] },
  descriptors: { [digest(LAYER)]: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(LAYER), size: LAYER.length } },
};

async function proxyFor(image: CacheImage | undefined, fetchOk: boolean, form: CacheForm = 'index') {
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
    { form },
  );
  const auth = 'Basic ' + Buffer.from(`${proxy.credentials.username}:${proxy.credentials.password}`).toString('base64');
  // Every request of these tests carries the credential, as BuildKit's do (through buildx).
  const call = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: auth } });
  return { proxy, fetched, call, base: `http://${proxy.host}/v2/${PROXY_REPO}` };
}

test('a blob uploaded in pieces is verified and lands in the export; a wrong digest is refused', async () => {
  const { proxy, base, call } = await proxyFor(undefined, true);
  try {
    const body = Buffer.from('a new layer, uploaded in two pieces');
    const start = await call(`${base}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const loc = start.headers.get('location')!;
    expect((await call(`http://${proxy.host}${loc}`, { method: 'PATCH', body: body.subarray(0, 10) })).headers.get('range')).toBe('0-9');
    const put = await call(`http://${proxy.host}${loc}?digest=${encodeURIComponent(digest(body))}`, { method: 'PUT', body: body.subarray(10) });
    expect(put.status).toBe(201);
    expect(await fs.readFile(blobPath(proxy.exportDir, digest(body)))).toEqual(body);
    expect(proxy.stats).toMatchObject({ uploads: 1, bytesUploaded: body.length });

    const bad = await call(`${base}/blobs/uploads/?digest=${encodeURIComponent(digest('something else'))}`, { method: 'POST', body });
    expect(bad.status).toBe(400);
    expect(proxy.stats.uploads).toBe(1);
  } finally {
    await proxy.close();
  }
});

test.each<CacheForm>(['index', 'manifest'])('an export in the %s form becomes the export layout that readLayout reads', async (form) => {
  const { proxy, base, call } = await proxyFor(undefined, true);
  try {
    const r = renderCacheImage(IMAGE, form);
    await call(`${base}/blobs/uploads/?digest=${encodeURIComponent(r.configDigest)}`, { method: 'POST', body: r.config });
    expect((await call(`${base}/manifests/out`, { method: 'PUT', body: r.list, headers: { 'content-type': r.mediaType } })).status).toBe(201);
    const layout = await readLayout(proxy.exportDir);
    expect(layout?.form).toBe(form);
    expect(layout?.config).toEqual(IMAGE.config);
    expect(Object.keys(layout!.descriptors)).toEqual([digest(LAYER)]);
    expect(proxy.stats.exportForm).toBe(form);
  } finally {
    await proxy.close();
  }
});

test('only a cache document may be written, and only under the export tag or its own digest', async () => {
  const { proxy, base, call } = await proxyFor(IMAGE, true);
  try {
    const r = renderCacheImage(IMAGE, 'manifest');
    expect((await call(`${base}/manifests/in`, { method: 'PUT', body: r.list })).status).toBe(403);
    expect((await call(`${base}/manifests/${digest('other')}`, { method: 'PUT', body: r.list })).status).toBe(400);
    const image = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('c'), size: 1 },
      layers: [],
    });
    const refused = await call(`${base}/manifests/out`, { method: 'PUT', body: image });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('not a BuildKit cache config');
    expect(await readLayout(proxy.exportDir)).toBeUndefined();
    // The offered cache is still what is served for import.
    expect((await call(`${base}/manifests/in`)).headers.get('docker-content-digest')).toBe(renderCacheImage(IMAGE, 'index').listDigest);
  } finally {
    await proxy.close();
  }
});

test('without the run credential nothing is answered: not /v2/, not a manifest, not a blob, not an upload', async () => {
  const { proxy, base, fetched } = await proxyFor(IMAGE, true);
  try {
    const wrong = 'Basic ' + Buffer.from(`${proxy.credentials.username}:not-it`).toString('base64');
    const tries: [string, RequestInit][] = [
      [`http://${proxy.host}/v2/`, {}],
      [`${base}/manifests/in`, {}],
      [`${base}/blobs/${digest(LAYER)}`, {}],
      [`${base}/blobs/uploads/`, { method: 'POST' }],
      [`${base}/manifests/out`, { method: 'PUT', body: renderCacheImage(IMAGE).list }],
      [`${base}/manifests/in`, { headers: { authorization: wrong } }],
    ];
    for (const [url, init] of tries) {
      const res = await fetch(url, init);
      expect([url, res.status]).toEqual([url, 401]);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    expect(proxy.stats.unauthorized).toBe(tries.length);
    expect(fetched).toEqual([]);
    expect(await readLayout(proxy.exportDir)).toBeUndefined();
  } finally {
    await proxy.close();
  }
});

test('authorized compares the whole basic credential', () => {
  const c = { username: 'obc', password: 'p4ss' };
  const b = (s: string) => 'Basic ' + Buffer.from(s).toString('base64');
  expect(authorized(b('obc:p4ss'), c)).toBe(true);
  expect(authorized(b('obc:p4s'), c)).toBe(false);
  expect(authorized(b('obc:p4ssx'), c)).toBe(false);
  expect(authorized(b('other:p4ss'), c)).toBe(false);
  expect(authorized('Bearer x', c)).toBe(false);
  expect(authorized(undefined, c)).toBe(false);
});

test.each<CacheForm>(['index', 'manifest'])(
  'the offered cache in the %s form: manifest by tag and digest; a held blob is fetched only on GET; a failed fetch is a 404',
  async () => {
    const ok = await proxyFor(IMAGE, true);
    const call = ok.call;
    try {
      const r = renderCacheImage(IMAGE);
      const m = await call(`${ok.base}/manifests/in`);
      expect(m.headers.get('docker-content-digest')).toBe(r.listDigest);
      expect(Buffer.from(await m.arrayBuffer())).toEqual(r.list);
      expect((await call(`${ok.base}/manifests/${r.listDigest}`)).status).toBe(200);
      const head = await call(`${ok.base}/blobs/${digest(LAYER)}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(ok.fetched).toEqual([]);
      const get = await call(`${ok.base}/blobs/${digest(LAYER)}`);
      expect(Buffer.from(await get.arrayBuffer())).toEqual(LAYER);
      expect(ok.fetched).toEqual([digest(LAYER)]);
      expect((await call(`${ok.base}/blobs/${digest('unknown')}`)).status).toBe(404);
    } finally {
      await ok.proxy.close();
    }
    const failing = await proxyFor(IMAGE, false);
    {
      const call = failing.call;
      expect((await call(`${failing.base}/blobs/${digest(LAYER)}`)).status).toBe(404);
      expect(failing.proxy.stats.fetchFailures).toEqual([digest(LAYER)]);
    }
    await failing.proxy.close();
  },
);

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

test('the export tag is written once: a second, different document is refused until the build runs again', async () => {
  const { proxy, base, call } = await proxyFor(undefined, true);
  try {
    const first = renderCacheImage(IMAGE, 'manifest');
    const other: CacheImage = { ...IMAGE, config: { ...IMAGE.config, records: [{ digest: 'sha256:attacker', layers: [{ layer: 0 }] }] } };
    const second = renderCacheImage(other, 'manifest');
    const put = (body: Buffer) => call(`${base}/manifests/out`, { method: 'PUT', body, headers: { 'content-type': first.mediaType } });
    expect((await put(first.list)).status).toBe(201);
    // The same document again (a retried request) is fine; another one is not.
    expect((await put(first.list)).status).toBe(201);
    expect((await put(second.list)).status).toBe(409);
    expect(proxy.stats).toMatchObject({ exportDigest: first.listDigest, rewritesRefused: 1 });
    const index = JSON.parse(await fs.readFile(path.join(proxy.exportDir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([first.listDigest]);
    // A build that runs again (after a failed fetch) writes its own export.
    proxy.rearmExport();
    expect((await put(second.list)).status).toBe(201);
    expect(proxy.stats.exportDigest).toBe(second.listDigest);
  } finally {
    await proxy.close();
  }
});
