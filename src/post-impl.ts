// The post step: save the layer cache after a successful build, then always clean up.
import * as core from '@actions/core';
import { loadState } from './state.js';
import { saveLayerCache } from './cache/store.js';
import { actionsCacheService, withCacheRoot } from './cache/service.js';
import { cacheTimeoutMs } from './phases/cache.js';
import { dockerEnv, logoutAndForget, removeBuilder } from './docker/docker.js';
import { removeSecretDir } from './secrets.js';

export async function runPost(): Promise<void> {
  const state = loadState();
  if (!state) {
    core.info('Nothing to clean up.');
    return;
  }
  const env = dockerEnv(state.dockerConfig);
  try {
    const c = state.cache;
    if (c) {
      await core.group('Save layer cache', async () => {
        if (!state.buildSucceeded) return core.info('Layer cache not saved: the build did not succeed.');
        if (!c.save) return core.info(`Layer cache not saved (${c.saveSkipReason ?? 'not enabled'}).`);
        const stats = { calls: 0, failures: 0, ms: 0, uploads: 0 };
        const started = Date.now();
        try {
          const out = await withCacheRoot(c.paths.store, async () => {
            const svc = await actionsCacheService(c.paths.store, cacheTimeoutMs(), stats);
            return saveLayerCache(svc, c.paths, c.keys, c.scope, c.held);
          });
          if (!out.saved) core.info(`Layer cache not saved: ${out.reason}.`);
          core.info(`Layer cache save: ${out.entriesSaved} entries, ${out.bytesSaved} bytes, ${Date.now() - started} ms.`);
        } catch (err) {
          core.warning(`Layer cache: saving failed: ${(err as Error).message}`);
        }
      });
    }
  } finally {
    await core.group('Clean up', async () => {
      await removeSecretDir(state.secretDir);
      await logoutAndForget(state.dockerConfig, state.loggedIn, env);
      await removeBuilder(state.builder, env);
      core.info('Removed build secrets, credentials and the temporary builder.');
    });
  }
}
