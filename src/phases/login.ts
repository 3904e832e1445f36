// Phase: registry logins (the inputs', registry-auth's and the automatic ghcr.io one), kept in the
// job's private DOCKER_CONFIG, which post deletes after logging out.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { LoginError } from '../docker/docker.js';
import { configuredRegistries, login, planLogins, prepareConfigForLogins, registryLabel } from '../docker/login.js';
import type { LoginInputs } from '../docker/login.js';
import type { StateKeeper } from '../state.js';

interface LoginNeeds {
  credentials: LoginInputs;
  /** The images of the run (an image on ghcr.io asks for the automatic login). */
  images: string[];
  /** Pushing: a failed automatic ghcr.io login fails the step (otherwise it is a warning). */
  push: boolean;
  /** Make no registry login, for this reason (a pull request from a fork: no secrets to log in with). */
  skipLogin?: string;
  /** GITHUB_ACTOR, the user of the automatic ghcr.io login. */
  actor: string;
  dockerConfig: string;
}

/** Logs in to every planned registry; returns those logged in. Each is recorded for post before its attempt. */
export async function loginPhase(o: LoginNeeds, env: Record<string, string>, keeper: StateKeeper): Promise<string[]> {
  const userConfig = await fs.readFile(path.join(o.dockerConfig, 'config.json'), 'utf8').catch(() => '{}');
  const plan = o.skipLogin
    ? { logins: [], notes: [`No registry login: ${o.skipLogin}.`] }
    : planLogins(o.credentials, o.images, o.actor, configuredRegistries(userConfig), process.env);
  for (const l of plan.logins) core.setSecret(l.password);
  if (!plan.logins.length && !plan.notes.length) return [];
  return core.group(`Registry login${plan.logins.length ? `: ${plan.logins.map((l) => registryLabel(l.registry)).join(', ')}` : ''}`, async () => {
    const done: string[] = [];
    for (const n of plan.notes) core.info(n);
    await prepareConfigForLogins(
      o.dockerConfig,
      plan.logins.map((l) => l.registry),
    );
    for (const l of plan.logins) {
      // Recorded before the attempt: post logs out even after a half-finished login.
      keeper.update({ loggedIn: [...keeper.state.loggedIn, l.registry] });
      try {
        await login(l, env);
        done.push(l.registry);
      } catch (err) {
        // The automatic ghcr.io login only matters when pushing; a read-only build goes on without it.
        if (l.input === 'github-token' && !o.push && err instanceof LoginError) core.warning(err.message);
        else throw err;
      }
    }
    return done;
  });
}
