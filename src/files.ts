// Small helpers over files and promises that several rooms use (the cache, the buildx install).
import { createReadStream, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** sha256 of a file, streamed. */
export async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    // 1 MiB reads: a fourth of the time of the default 64 KiB on large layers.
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (d) => h.update(d))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return 'sha256:' + h.digest('hex');
}

/** Below this many bytes in all, files are hashed on this thread: a worker's start costs more. */
const WORKER_MIN_BYTES = 64 << 20;
/** Hash workers at most (one per core up to this). */
const MAX_HASH_WORKERS = 4;

// A hash worker (CommonJS, evaluated from this string: nothing to bundle): each message is a file
// name; the answer holds its sha256, or no digest when the file could not be read.
const HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const buf = Buffer.allocUnsafe(4 << 20);
parentPort.on('message', (file) => {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const h = createHash('sha256');
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    parentPort.postMessage({ digest: 'sha256:' + h.digest('hex') });
  } catch {
    parentPort.postMessage({});
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
});
`;

/** One file hashed by worker `w`; rejects when the worker dies. */
function askWorker(w: Worker, file: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m: { digest?: string }) => (done(), resolve(m.digest));
    const onError = (err: Error) => (done(), reject(err));
    const onExit = (code: number) => (done(), reject(new Error(`hash worker exited (${code})`)));
    w.on('message', onMessage).on('error', onError).on('exit', onExit);
    w.postMessage(file);
  });
}

/**
 * sha256 of each file (undefined for one that could not be read), in order. Large sets are hashed
 * on worker threads, one per core: hashing is what bounds checking a large cache export, and this
 * thread alone would leave the other cores idle. When a worker cannot start or dies, the files are
 * hashed here.
 */
export async function fileDigests(files: string[], workerMinBytes = WORKER_MIN_BYTES): Promise<(string | undefined)[]> {
  const here = () => mapLimit(files, 4, (f) => fileDigest(f).catch(() => undefined));
  const sizes = await Promise.all(
    files.map((f) =>
      fs.stat(f).then(
        (st) => st.size,
        () => 0,
      ),
    ),
  );
  const total = sizes.reduce((a, b) => a + b, 0);
  const n = Math.min(files.length, MAX_HASH_WORKERS, availableParallelism());
  if (total < workerMinBytes || n < 2) return here();
  return digestsOnWorkers(files, n).catch(here);
}

/** sha256 of each file on `n` worker threads; rejects when a worker fails. */
export async function digestsOnWorkers(files: string[], n: number): Promise<(string | undefined)[]> {
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(new Worker(HASH_WORKER, { eval: true }));
    // At most n files at once, so an idle worker is always there for the next one.
    const idle = [...workers];
    return await mapLimit(files, n, async (file) => {
      const w = idle.pop()!;
      try {
        return await askWorker(w, file);
      } finally {
        idle.push(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}
