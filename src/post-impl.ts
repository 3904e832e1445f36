// The post step: save the layer cache after a successful build, then always clean up.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { loadState } from './state.js';
import { newCachePhase } from './cache/service.js';
import { saveCachePhase } from './phases/save.js';
import { saveMountsPhase } from './phases/mounts.js';
import { dockerEnv, logoutAndForget, removeBuilder } from './docker/docker.js';
import { removeSecretDir } from './secrets.js';
import { withholdEnv } from './exec.js';
import { actionsCacheTemp } from './workdir.js';
import { secretEnvNames } from './secret-envs.js';
import { appendSummary, renderSaveSummary } from './summary.js';

export async function runPost(): Promise<void> {
  // No child of post (docker, tar, zstd) gets the secret-envs variables or secret inputs.
  withholdEnv(secretEnvNames());
  const state = loadState();
  if (!state) {
    core.info('Nothing to clean up.');
    return;
  }
  const env = dockerEnv(state.dockerConfig);
  // The layer cache and the cache mounts share one budget for the cache service.
  const phase = newCachePhase();
  try {
    const summary = await saveCachePhase(state, phase);
    if (summary) await appendSummary(renderSaveSummary(summary));
    // Cache mounts, after the layer cache and before the builder is removed; never throws.
    await saveMountsPhase(state.mounts, state.buildSucceeded && !state.cancelled, state.dockerConfig, phase);
  } finally {
    await core.group('Clean up', async () => {
      try {
        await removeSecretDir(state.secretDir);
        // The builder goes first: the buildx plugin it needs may live in the private Docker config.
        await removeBuilder(state.builder, env);
      } finally {
        await logoutAndForget(state.dockerConfig, state.loggedIn, env);
        await removeLeftovers(state);
      }
      core.info('Removed build secrets, credentials and the temporary builder.');
    });
  }
}

/**
 * What @actions/cache left in its temporary directory (archives of a call cut short), and after a
 * cancelled or failed run every working file of this action: partial archives, half-extracted
 * blobs, half-written layouts. Nothing of them is used again.
 */
async function removeLeftovers(state: NonNullable<ReturnType<typeof loadState>>): Promise<void> {
  if (!state.workDir) return;
  const whole = !!state.cancelled || !state.buildSucceeded;
  await fs.rm(whole ? state.workDir : actionsCacheTemp(path.dirname(state.workDir)), { recursive: true, force: true });
  if (whole) core.info('Removed the working files of the cancelled or failed run (partial cache archives and layouts).');
}
