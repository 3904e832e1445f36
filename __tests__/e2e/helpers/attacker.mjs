// Another local process on the runner, during a build: it finds every HTTP server listening on
// loopback, picks the action's layer-cache registry by its realm, and tries to read the cache, push
// a layer and a cache document, and overwrite the export, with no credential and a guessed one.
// Prints what it found and every answer as JSON.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const REPO = 'obc/cache';
/** A deadline that keeps the process alive until it fires (AbortSignal.timeout's timer does not). */
function deadline(ms) {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(new Error(`no answer in ${ms} ms`)), ms);
  return { signal: c.signal, done: () => clearTimeout(t) };
}
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function loopbackListeners() {
  const ports = new Set();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue; // LISTEN
    const [ip, port] = f[1].split(':');
    if (ip === '0100007F' || ip === '00000000') ports.add(parseInt(port, 16));
  }
  return [...ports].sort((a, b) => a - b);
}

async function probe(port) {
  const d = deadline(2000);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: d.signal });
    await res.arrayBuffer();
    return (res.headers.get('www-authenticate') ?? '').includes('oneshot-build');
  } catch {
    return false;
  } finally {
    d.done();
  }
}

const layer = Buffer.from(process.env.ATTACKER_TEXT ?? 'attacker-text');
const config = Buffer.from(JSON.stringify({ layers: [{ blob: sha(layer), parent: -1 }], records: [{ digest: sha('r'), layers: [{ layer: 0 }] }] }));
const doc = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }),
);
const guessed = 'Basic ' + Buffer.from('obc:guessed-password').toString('base64');

async function attack(port) {
  const base = `http://127.0.0.1:${port}/v2/${REPO}`;
  const tries = [
    ['read /v2/', `http://127.0.0.1:${port}/v2/`, 'GET'],
    ['read the offered cache', `${base}/manifests/in`, 'GET'],
    ['read the export', `${base}/manifests/out`, 'GET'],
    ['read a blob', `${base}/blobs/${sha(config)}`, 'HEAD'],
    ['push a layer', `${base}/blobs/uploads/?digest=${encodeURIComponent(sha(layer))}`, 'POST', layer],
    ['push a config', `${base}/blobs/uploads/?digest=${encodeURIComponent(sha(config))}`, 'POST', config],
    ['start an upload', `${base}/blobs/uploads/`, 'POST'],
    ['overwrite the export', `${base}/manifests/out`, 'PUT', doc],
    ['push a document by digest', `${base}/manifests/${sha(doc)}`, 'PUT', doc],
    ['overwrite the export with a guessed credential', `${base}/manifests/out`, 'PUT', doc, guessed],
    ['read the offered cache with a guessed credential', `${base}/manifests/in`, 'GET', undefined, guessed],
  ];
  const out = [];
  for (const [what, url, method, body, auth] of tries) {
    const headers = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    if (auth) headers.authorization = auth;
    const d = deadline(5000);
    try {
      const res = await fetch(url, { method, body, headers, signal: d.signal });
      await res.arrayBuffer();
      out.push({ port, what, status: res.status });
    } catch (err) {
      out.push({ port, what, status: 0, error: String(err) });
    } finally {
      d.done();
    }
  }
  return out;
}

const ports = loopbackListeners();
const found = await Promise.all(ports.map(probe));
const targets = ports.filter((_, i) => found[i]);
const results = [];
for (const port of targets) results.push(...(await attack(port)));
process.stdout.write(JSON.stringify({ targets, results }));
