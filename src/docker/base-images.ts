// Base images, pulled into the builder again: when the cache service has lost (evicted) a blob entry
// that holds a base image's layer, every cached step above that layer is out of reach, since each
// cached layer chain starts with it. The builder can pull that layer from the base image's own
// registry (with its own mirrors and credentials), and once it holds it, BuildKit takes the cached
// chains on top of it from its own store instead of asking the cache for it.
import { promises as fs } from 'node:fs';
import * as core from '@actions/core';
import { run } from '../exec.js';

/** At most this many base images are pulled again. */
const MAX_BASES = 16;
/** A reference as BuildKit prints it once resolved: a name and a digest, nothing else. */
const PINNED_REF = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;

/**
 * The base images a build's log shows BuildKit resolved, pinned by digest, in order of appearance:
 * the `FROM name@sha256:...` steps of its plain progress (`#5 [stage 1/3] FROM ...`).
 */
export function pinnedBaseImages(log: string): string[] {
  const out = new Set<string>();
  for (const m of log.matchAll(/^#\d+ \[[^\]\n]*\] FROM (\S+)/gm)) {
    if (PINNED_REF.test(m[1]) && out.size < MAX_BASES) out.add(m[1]);
  }
  return [...out];
}

/**
 * A Dockerfile that makes the builder fetch and unpack each image: a copy from it (of a name that
 * matches nothing, so it copies nothing) needs its layers on the builder, and works for images
 * without a shell too.
 */
export function pullDockerfile(refs: string[]): string {
  const lines = refs.map((r, i) => `FROM ${r} AS obc-base-${i}`);
  lines.push('FROM scratch');
  refs.forEach((_, i) => lines.push(`COPY --from=obc-base-${i} /obc-pull-nothing* /`));
  return `${lines.join('\n')}\n`;
}

/** `docker buildx build` of that Dockerfile from standard input; nothing is exported. */
export function pullArgv(o: { builder: string; context: string; platforms: string[] }): string[] {
  const a = ['buildx', 'build', '--builder', o.builder, '--progress', 'plain', '--provenance=false', '--file', '-', '--output', 'type=cacheonly'];
  if (o.platforms.length) a.push('--platform', o.platforms.join(','));
  a.push(o.context);
  return a;
}

export interface PullOptions {
  builder: string;
  platforms: string[];
  env: Record<string, string>;
  /** An empty directory for the build context (made and removed here). */
  context: string;
}

/** Pulls `refs` into the builder; true when it did. Never throws: a failure only says why. */
export async function pullBaseImages(refs: string[], o: PullOptions): Promise<boolean> {
  if (refs.length === 0) return false;
  try {
    await fs.mkdir(o.context, { recursive: true });
    const r = await run('docker', pullArgv(o), { env: o.env, input: pullDockerfile(refs), silent: true, ignoreReturnCode: true });
    if (r.exitCode === 0) return true;
    const line = r.stderr.trim().split('\n').pop() ?? '';
    core.info(`Layer cache: the base images could not be pulled again (${line.slice(0, 200) || `exit code ${r.exitCode}`}).`);
    return false;
  } catch (err) {
    core.info(`Layer cache: the base images could not be pulled again (${(err as Error).message.slice(0, 200)}).`);
    return false;
  } finally {
    await fs.rm(o.context, { recursive: true, force: true }).catch(() => undefined);
  }
}
