// The leak guard: before an image is pushed or a layer cache saved, look for every secret value in
// the blobs about to leave the runner (the image's manifests, configs and layers, and the cache
// export), raw and decompressed. Reports secret ids and blob digests only, never values.
import { promises as fs, createReadStream } from 'node:fs';
import * as path from 'node:path';
import { runStreaming, lastMeaningfulLine } from '../exec.js';
import { BlobScan, DecompressError, nodeZstdDecoder } from './blob.js';
import type { Decoder, DecoderFactory, Encoding } from './blob.js';
import { readTar } from './tar.js';
import type { NeedlePlan } from './needles.js';

export { planNeedles, MIN_NEEDLE_BYTES } from './needles.js';
export type { SecretValue, NeedlePlan } from './needles.js';

export type Place = 'image' | 'layer cache' | 'cache mount';

export interface Finding {
  id: string;
  /** `sha256:...` for blobs, else the file's name inside what was scanned. */
  blob: string;
  place: Place;
  encoding: Encoding;
}

export interface ScanStats {
  blobs: number;
  storedBytes: number;
  decompressedBytes: number;
  ms: number;
}

class LeakError extends Error {}

const SMALL_BYTES = 256 * 1024;

/**
 * The config digest (what buildx reports as the image ID) of a single-platform image, from the
 * files of `docker save`; '' when there is not exactly one image manifest.
 */
export function configDigestOf(files: Map<string, Buffer>): string {
  const json = (name: string): any => {
    const b = files.get(name);
    if (!b) return undefined;
    try {
      return JSON.parse(b.toString('utf8'));
    } catch {
      return undefined;
    }
  };
  const blob = (digest: string) => json(`blobs/${digest.replace(':', '/')}`);
  let node = json('index.json');
  for (let depth = 0; node && depth < 4; depth++) {
    if (node.config?.digest) return String(node.config.digest);
    const images = (node.manifests ?? []).filter((m: any) => m?.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
    if (images.length !== 1) return '';
    node = blob(images[0].digest);
  }
  return '';
}

/** zstd through the `zstd` program, for a Node without its own zstd. */
export function externalZstdDecoder(env?: Record<string, string>): Decoder {
  const child = runStreaming('zstd', ['-d', '-c', '-q', '--long=31'], { env });
  const done = child.done.then(
    (r) => {
      if (r.exitCode !== 0) throw new Error(`zstd exited with ${r.exitCode}: ${lastMeaningfulLine(r.stderr)}`);
    },
    (err: Error) => {
      throw new Error(`zstd could not be started (${err.message})`);
    },
  );
  return { input: child.stdin, output: child.stdout, done };
}

function blobName(file: string): string | undefined {
  const m = /(?:^|\/)blobs\/(sha256|sha512)\/([0-9a-f]{64,128})$/.exec(file);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

export class LeakGuard {
  readonly findings: Finding[] = [];
  readonly stats: ScanStats = { blobs: 0, storedBytes: 0, decompressedBytes: 0, ms: 0 };
  /** Small files of the image read by scanDockerImage (index.json, manifests, configs), by name. */
  readonly small = new Map<string, Buffer>();
  /** Blob digests already scanned (an image and its cache export share most layers). */
  private readonly scanned = new Set<string>();
  private readonly needles: Buffer[];
  private readonly zstd: DecoderFactory;

  constructor(
    private readonly plan: NeedlePlan,
    opts: { zstd?: DecoderFactory } = {},
  ) {
    this.needles = plan.needles.map((n) => n.bytes);
    this.zstd = opts.zstd ?? nodeZstdDecoder() ?? (() => externalZstdDecoder());
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  private sink(name: string, place: Place, keep = false): { write(c: Buffer): Promise<void>; end(): Promise<void> } {
    const scan = new BlobScan(this.needles, { zstd: this.zstd });
    const label = blobName(name) ?? name;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    return {
      write: (c) => {
        if (keep && keptBytes <= SMALL_BYTES) {
          kept.push(Buffer.from(c));
          keptBytes += c.length;
        }
        return scan.write(c);
      },
      end: async () => {
        if (keep && keptBytes <= SMALL_BYTES) this.small.set(name, Buffer.concat(kept));
        let hits;
        try {
          hits = await scan.end();
        } catch (err) {
          if (err instanceof DecompressError)
            throw new LeakError(`secret-scan: ${place} blob ${label}: ${err.message}; not pushed, since it cannot be checked`);
          throw err;
        }
        this.stats.blobs++;
        this.stats.storedBytes += scan.sizes.stored;
        this.stats.decompressedBytes += scan.sizes.decompressed;
        for (const h of hits) this.findings.push({ id: this.plan.needles[h.needle].id, blob: label, place, encoding: h.encoding });
      },
    };
  }

  private async timed<T>(f: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await f();
    } finally {
      this.stats.ms += Date.now() - started;
    }
  }

  /** Scans an image in the local Docker image store, streamed out of `docker save`. */
  async scanDockerImage(ref: string, env: Record<string, string>): Promise<void> {
    if (!this.active) return;
    await this.timed(async () => {
      const child = runStreaming('docker', ['save', ref], { env });
      child.stdin.end();
      const exited = child.done.catch((err: Error) => ({ exitCode: 127, stderr: err.message }));
      let readError: unknown;
      try {
        await readTar(child.stdout, (e) => {
          const digest = blobName(e.name);
          if (digest && this.scanned.has(digest)) return undefined;
          if (digest) this.scanned.add(digest);
          return this.sink(e.name, 'image', e.size <= SMALL_BYTES);
        });
      } catch (err) {
        readError = err;
        child.stdout.destroy();
      }
      const r = await exited;
      if (readError instanceof LeakError) throw readError;
      if (r.exitCode !== 0 || readError) {
        throw new LeakError(
          `secret-scan: cannot read image ${ref} for the leak check (${r.exitCode !== 0 ? `docker save: ${lastMeaningfulLine(r.stderr) || `exit code ${r.exitCode}`}` : (readError as Error).message}); not pushed`,
        );
      }
    });
  }

  /** Scans every file of a directory (an OCI layout: a cache export or an image export). */
  async scanDirectory(dir: string, place: Place): Promise<void> {
    if (!this.active) return;
    await this.timed(async () => {
      const files: string[] = [];
      const walk = async (d: string) => {
        let entries;
        try {
          entries = await fs.readdir(d, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        for (const e of entries) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile()) files.push(p);
        }
      };
      await walk(dir);
      for (const f of files.sort()) {
        const rel = path.relative(dir, f).split(path.sep).join('/');
        const digest = blobName(rel);
        if (digest && this.scanned.has(digest)) continue;
        if (digest) this.scanned.add(digest);
        const s = this.sink(rel, place);
        for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) await s.write(chunk as Buffer);
        await s.end();
      }
    });
  }

  /** One line naming each leaked secret's id and where it was found; undefined when clean. */
  error(): LeakError | undefined {
    if (this.findings.length === 0) return undefined;
    const byId = new Map<string, Finding>();
    for (const f of this.findings) if (!byId.has(f.id)) byId.set(f.id, f);
    const parts = [...byId.values()].map(
      (f) => `secret "${f.id}" is in ${f.place} blob ${f.blob} (${f.encoding === 'raw' ? 'as stored' : `${f.encoding} layer data`})`,
    );
    return new LeakError(
      `secret-scan: ${parts.join('; ')}. Nothing was pushed and the layer cache is not saved: read secrets with RUN --mount=type=secret and do not copy them into the image.`,
    );
  }
}
