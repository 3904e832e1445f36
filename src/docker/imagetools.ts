// `docker buildx imagetools`: reading an image (index) from the registry, and creating an index.
import { createHash } from 'node:crypto';
import { run, lastMeaningfulLine } from '../exec.js';
import { platformDigests } from '../distribute.js';

interface InspectedImage {
  /** Digest of the manifest or index as the registry serves it. */
  digest: string;
  /** Platform -> manifest digest (one entry for a single-platform manifest, named by `single`). */
  platforms: Record<string, string>;
}

/**
 * What a manifest or index's bytes (as the registry serves them) say: their digest and, for an
 * index, each platform's manifest; undefined when they are not JSON.
 */
export function describeManifest(raw: string | Buffer, single = ''): InspectedImage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    return undefined;
  }
  const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const isIndex = Array.isArray((json as { manifests?: unknown })?.manifests);
  return { digest, platforms: isIndex ? platformDigests(json) : single ? { [single]: digest } : {} };
}

/** Reads `ref` (name@digest or name:tag) from the registry; undefined when it cannot. */
export async function inspectImage(ref: string, env: Record<string, string>, single = ''): Promise<InspectedImage | undefined> {
  const res = await run('docker', ['buildx', 'imagetools', 'inspect', '--raw', ref], { env, silent: true, ignoreReturnCode: true });
  return res.exitCode === 0 ? describeManifest(res.stdout, single) : undefined;
}

/** Runs one `docker buildx imagetools create`; a failure is one line naming the image. */
export async function createIndex(image: string, argv: string[], env: Record<string, string>): Promise<void> {
  const res = await run('docker', argv, { env, ignoreReturnCode: true });
  if (res.exitCode !== 0) {
    throw new Error(
      `distribute: merge: docker buildx imagetools create for ${image} failed: ${lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `exit code ${res.exitCode}`}`,
    );
  }
}
