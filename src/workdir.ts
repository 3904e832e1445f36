// The working directory of this process. @actions/cache archives paths relative to the working
// directory and GITHUB_WORKSPACE, so the layer cache switches both to its own root while it talks to
// the service (withCacheRoot); programs this action runs keep the step's real working directory.
// RUNNER_TEMP is switched too, to a directory of this action's own: @actions/cache downloads and
// packs its archives in a fresh directory under RUNNER_TEMP, and leaves them there when a call is
// cut short (a cancelled step), so that post can remove them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

let depth = 0;
let savedCwd = '';
let savedWorkspace: string | undefined;
let savedRunnerTemp: string | undefined;

/** Where @actions/cache puts its archives while this action talks to the service. */
export function actionsCacheTemp(runnerTemp: string): string {
  return path.join(runnerTemp, 'oneshot-build', 'tmp-actions-cache');
}

/** The step's working directory, also while a cache call has switched it. */
export function realCwd(): string {
  return depth > 0 ? savedCwd : process.cwd();
}

/**
 * Runs `fn` with the working directory and GITHUB_WORKSPACE set to `root`. Calls may overlap
 * (blobs fetched while a build runs): the first in switches, the last out switches back.
 */
export async function withCacheRoot<T>(root: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(root, { recursive: true });
  if (depth++ === 0) {
    savedCwd = process.cwd();
    savedWorkspace = process.env.GITHUB_WORKSPACE;
    savedRunnerTemp = process.env.RUNNER_TEMP;
    process.chdir(root);
    process.env.GITHUB_WORKSPACE = root;
    process.env.RUNNER_TEMP = actionsCacheTemp(savedRunnerTemp || '/tmp');
  } else if (process.cwd() !== root) {
    depth--;
    throw new Error(`cache root ${root} requested while ${process.cwd()} is in use`);
  }
  try {
    return await fn();
  } finally {
    if (--depth === 0) {
      process.chdir(savedCwd);
      if (savedWorkspace === undefined) delete process.env.GITHUB_WORKSPACE;
      else process.env.GITHUB_WORKSPACE = savedWorkspace;
      if (savedRunnerTemp === undefined) delete process.env.RUNNER_TEMP;
      else process.env.RUNNER_TEMP = savedRunnerTemp;
    }
  }
}

/** GITHUB_WORKSPACE as the step has it, also while a cache call has switched it. */
export function realWorkspace(): string | undefined {
  return depth > 0 ? savedWorkspace : process.env.GITHUB_WORKSPACE;
}
