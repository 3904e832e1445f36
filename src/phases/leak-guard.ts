// Phase: the leak guard. Before anything of the build leaves the runner (a push, an export, the
// layer cache, a cache mount), every layer of it is read for the secrets' values; a find fails the
// step and removes what would have left.
import { promises as fs } from 'node:fs';
import * as core from '@actions/core';
import { run } from '../exec.js';
import type { BuildPlan } from '../docker/argv.js';
import type { StageFacts } from '../build-mode.js';
import { LeakGuard } from '../leakguard/index.js';
import type { planNeedles } from '../leakguard/index.js';
import type { DockerSetup } from './docker.js';
import type { Note } from '../report.js';

/** What post will save of the cache mounts, exported for the guard to check (and dropped on a leak). */
export interface MountExports {
  export(): Promise<string[]>;
  drop(): Promise<void>;
}

export interface GuardRequest {
  needles: ReturnType<typeof planNeedles>;
  /** How many secrets the values belong to (for the log line). */
  secretCount: number;
  /** The first invocation, as it ran: where its image and cache export went. */
  first: BuildPlan;
  stage: StageFacts;
  /** The `load` input, and how many `outputs` entries were asked for. */
  wantLoad: boolean;
  userOutputs: number;
  /** The layer cache export is to be saved. */
  cacheSaved: boolean;
}

/** Reads the image where it leaves the runner or stays in the store (load), and the cache exports always. */
async function scanAll(guard: LeakGuard, g: GuardRequest, docker: DockerSetup, mountExports: MountExports | undefined): Promise<void> {
  const { mode, local } = g.stage;
  if (mode.localName && local && (mode.staged === 'load-then-push' || g.wantLoad || g.userOutputs > 0)) await guard.scanDockerImage(local, docker.env);
  if (mode.layout) await guard.scanDirectory(g.stage.ociDir, 'image');
  if ((g.cacheSaved || g.stage.scanCacheDir) && g.first.cacheExportDir) await guard.scanDirectory(g.first.cacheExportDir, 'layer cache');
  for (const dir of (await mountExports?.export()) ?? []) await guard.scanDirectory(dir, 'cache mount');
}

/** Nothing of this build may leave: drops the cache exports, the layout and the loaded images. */
async function dropEverything(g: GuardRequest, docker: DockerSetup, mountExports: MountExports | undefined): Promise<void> {
  await mountExports?.drop();
  if (g.first.cacheExportDir) await fs.rm(g.first.cacheExportDir, { recursive: true, force: true });
  await fs.rm(g.stage.ociDir, { recursive: true, force: true });
  for (const ref of g.first.load ? g.first.tags : []) await run('docker', ['image', 'rm', ref], { env: docker.env, silent: true, ignoreReturnCode: true });
}

/** The "Leak guard" group; returns the guard (its small files give the image id); throws the leak. */
export async function guardPhase(g: GuardRequest, docker: DockerSetup, deps: { note: Note; mountExports?: MountExports }): Promise<LeakGuard> {
  return core.group('Leak guard', async () => {
    const guard = new LeakGuard(g.needles);
    await scanAll(guard, g, docker, deps.mountExports);
    const s = guard.stats;
    deps.note({
      secretScan: {
        blobs: s.blobs,
        storedBytes: s.storedBytes,
        decompressedBytes: s.decompressedBytes,
        ms: s.ms,
        leakedIds: [...new Set(guard.findings.map((f) => f.id))],
      },
    });
    core.info(
      `Leak guard: looked for ${g.needles.needles.length} value(s) of ${g.secretCount - g.needles.skipped.length} secret(s) in ${s.blobs} blob(s), ` +
        `${s.storedBytes} bytes stored, ${s.decompressedBytes} bytes decompressed, in ${s.ms} ms.`,
    );
    const leak = guard.error();
    if (leak) {
      await dropEverything(g, docker, deps.mountExports);
      throw leak;
    }
    core.info('Leak guard: no secret value found.');
    return guard;
  });
}
