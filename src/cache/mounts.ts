// Cache mounts (`RUN --mount=type=cache`) kept between runs in the Actions cache. Main restores one
// entry per scope and mount and fills the builder's cache mount from it with a helper build; post
// exports the mount with another helper build and saves a new entry only when its content changed.
// Helper builds run on the same builder as the build. Nothing here fails the job: a failed helper
// build or a cache-service fault is a warning, and the build goes on without that mount's cache.
// This file does one mount at a time; phases/mounts.ts runs them for main and post.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { run } from '../exec.js';
import { parseBuildxFailure } from '../annotations.js';
import { dockerEnv } from '../docker/docker.js';
import { formatBytes } from '../format.js';
import type { CacheService } from './service.js';
import type { MountKeys, MountsPlan } from './mounts-plan.js';
import { CACHE_MOUNT_NS_ARG, META_NAME, TAR_NAME, extractDockerfile, helperArgv, injectDockerfile, saveKey } from './mounts-plan.js';
import { hashTar } from './mounts-hash.js';
import { fileSize } from './layout.js';

const META_FORMAT = 1;

/** What an entry holds besides the tar. */
export interface MountMeta {
  format: number;
  id: string;
  /** Content hash of the tar (mounts-hash.ts). */
  hash: string;
  files: number;
  bytes: number;
  createdAt: string;
}

export type MountRestoreResult = 'restored' | 'kept' | 'miss' | 'failed';

export interface MountState {
  id: string;
  slug: string;
  keys: MountKeys;
  /** Content hash of the entry restored (the content the cache already holds). */
  entryHash?: string;
  restoredKey?: string;
  /** Directory holding this mount's export, made in main right after the build (before the leak guard). */
  exported?: string;
  /** Why the export failed, when it did. */
  exportError?: string;
}

/** What main hands to post about the cache mounts. */
export interface MountsState {
  builder: string;
  image: string;
  maxBytes: number;
  namespace?: string;
  root: string;
  save: boolean;
  saveSkipReason?: string;
  mounts: MountState[];
}

export interface MountReport {
  id: string;
  result: MountRestoreResult;
  bytes: number;
  key?: string;
}

/** Where and how the helper builds run. */
export interface Helper {
  builder: string;
  image: string;
  namespace?: string;
  root: string;
  env: Record<string, string>;
}

/** The helper for a builder, with the job's Docker config (buildx may live there). */
export function helperFor(s: { builder: string; image: string; namespace?: string; root: string }, dockerConfig: string | undefined): Helper {
  return { builder: s.builder, image: s.image, namespace: s.namespace, root: s.root, env: dockerEnv(dockerConfig) };
}

export const label = (id: string) => `cache mount ${id}`;
const files = (n: number) => `${n} ${n === 1 ? 'file' : 'files'}`;

/** Runs a helper build; returns undefined on success, else buildx's error line. */
async function runHelper(
  h: Helper,
  name: string,
  dockerfile: string,
  context: string,
  dest: string,
  args: Record<string, string>,
): Promise<string | undefined> {
  const dir = path.join(h.root, 'helpers');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.Dockerfile`);
  await fs.writeFile(file, dockerfile);
  await fs.rm(dest, { recursive: true, force: true });
  const buildArgs: Record<string, string> = { OBC_NONCE: randomBytes(8).toString('hex'), ...args };
  if (h.namespace !== undefined) buildArgs[CACHE_MOUNT_NS_ARG] = h.namespace;
  const argv = helperArgv({ builder: h.builder, dockerfile: file, context, dest, buildArgs });
  try {
    const r = await run('docker', argv, { env: h.env, silent: !core.isDebug(), view: null, ignoreReturnCode: true });
    if (r.exitCode === 0) return undefined;
    return parseBuildxFailure(`${r.stdout}\n${r.stderr}`).message || `exit code ${r.exitCode}`;
  } catch (err) {
    return (err as Error).message;
  }
}

async function readMeta(dir: string): Promise<MountMeta | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, META_NAME), 'utf8')) as MountMeta;
    return m.format === META_FORMAT && typeof m.hash === 'string' && typeof m.id === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Restores one mount: the entry, checked, then injected into the builder. */
export async function restoreOne(svc: CacheService | undefined, h: Helper, m: MountsPlan['mounts'][number], st: MountState): Promise<MountReport> {
  const started = Date.now();
  const rep: MountReport = { id: m.id, result: 'miss', bytes: 0 };
  const dir = path.join(h.root, m.slug);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  try {
    const matched = svc ? await svc.restore([dir], m.keys.primary, m.keys.restore) : undefined;
    if (!matched) {
      core.info(
        `${label(m.id)}: ${svc && !svc.gaveUp ? 'no entry for this scope yet; the mount starts empty' : 'not restored (no cache service); the mount starts empty'}.`,
      );
      return rep;
    }
    rep.key = matched;
    const meta = await readMeta(dir);
    const tar = path.join(dir, TAR_NAME);
    const digest = meta && meta.id === m.id ? await hashTar(tar).catch(() => undefined) : undefined;
    if (!meta || meta.id !== m.id || !digest || digest.hash !== meta.hash) {
      core.warning(`${label(m.id)}: the entry ${matched} is damaged or unreadable; the mount starts empty.`);
      rep.result = 'failed';
      return rep;
    }
    // The cache holds this content already: post saves only a different one.
    st.entryHash = meta.hash;
    st.restoredKey = matched;
    rep.bytes = (await fileSize(tar)) ?? 0;
    const status = path.join(h.root, `${m.slug}-status`);
    const err = await runHelper(h, `${m.slug}-inject`, injectDockerfile(h.image, m.id), dir, status, {});
    if (err) {
      core.warning(`${label(m.id)}: could not fill the mount from ${matched}: ${err}; the build goes on with the mount as it is.`);
      rep.result = 'failed';
      return rep;
    }
    const result = (await fs.readFile(path.join(status, 'result'), 'utf8').catch(() => '')).trim();
    await fs.rm(status, { recursive: true, force: true });
    if (result === 'kept') {
      rep.result = 'kept';
      core.info(`${label(m.id)}: the builder already holds this mount; kept it (entry ${matched} not used).`);
    } else {
      rep.result = 'restored';
      core.info(
        `${label(m.id)}: restored ${matched} (${files(meta.files)}, ${formatBytes(meta.bytes)}; entry ${formatBytes(rep.bytes)}) in ${Date.now() - started} ms.`,
      );
    }
    return rep;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface MountSaveReport {
  id: string;
  saved: boolean;
  reason?: string;
  key?: string;
  bytes: number;
}

/** Exports one mount and saves it when its content differs from what the cache holds. */
export async function saveOne(svc: CacheService, h: Helper, s: MountsState, m: MountState): Promise<MountSaveReport> {
  const started = Date.now();
  const rep: MountSaveReport = { id: m.id, saved: false, bytes: 0 };
  const not = (reason: string, warn = false): MountSaveReport => {
    (warn ? core.warning : core.info)(`${label(m.id)}: not saved: ${reason}.`);
    return { ...rep, reason };
  };
  const dir = m.exported ?? path.join(h.root, m.slug);
  try {
    if (m.exportError) return not(`the mount could not be exported: ${m.exportError}`, true);
    if (!m.exported) {
      const err = await exportOne(h, s, m, dir);
      if (err) return not(`the mount could not be exported: ${err}`, true);
    }
    const tar = path.join(dir, TAR_NAME);
    const kb = Number((await fs.readFile(path.join(dir, 'size-kb'), 'utf8').catch(() => '')).trim());
    await fs.rm(path.join(dir, 'size-kb'), { force: true });
    const tarBytes = await fileSize(tar);
    const limit = `cache-mounts-max-size is ${formatBytes(s.maxBytes)}`;
    if (tarBytes === undefined) {
      return not(Number.isFinite(kb) && kb > 0 ? `it holds ${formatBytes(kb * 1024)}; ${limit}` : 'the export holds no archive', true);
    }
    if (tarBytes > s.maxBytes) return not(`its archive is ${formatBytes(tarBytes)}; ${limit}`, true);
    const digest = await hashTar(tar);
    if (digest.entries === 0) {
      return not(
        `the mount is empty after the build (does a RUN --mount=type=cache in the Dockerfile use the id "${m.id}"? Without id=, the id is the target path)`,
        true,
      );
    }
    if (digest.hash === m.entryHash) return not(`unchanged since ${m.restoredKey ?? 'the entry restored'}`);
    const key = saveKey(m.keys, digest.hash);
    const meta: MountMeta = { format: META_FORMAT, id: m.id, hash: digest.hash, files: digest.files, bytes: digest.bytes, createdAt: new Date().toISOString() };
    await fs.writeFile(path.join(dir, META_NAME), JSON.stringify(meta));
    // Same commit and content as an earlier run (a re-run): the entry is there already.
    if ((await svc.restore([dir], key, [], { lookupOnly: true })) === key) return not(`${key} already holds this content`);
    if (!(await svc.save([dir], key))) return not(`the cache service did not store ${key}`, true);
    core.info(
      `${label(m.id)}: saved ${key} (${files(digest.files)}, ${formatBytes(digest.bytes)}; entry ${formatBytes(tarBytes)}) in ${Date.now() - started} ms.`,
    );
    return { ...rep, saved: true, key, bytes: tarBytes };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs the helper build that packs one mount into `dir`; an error message, or undefined. */
export async function exportOne(h: Helper, s: MountsState, m: MountState, dir: string): Promise<string | undefined> {
  const empty = path.join(h.root, 'empty-context');
  await fs.mkdir(empty, { recursive: true });
  const maxKb = Math.floor(s.maxBytes / 1024);
  return runHelper(h, `${m.slug}-extract`, extractDockerfile(h.image, m.id), empty, dir, { OBC_MAX_KB: String(maxKb) });
}
