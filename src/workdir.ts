// The working directory of this process. @actions/cache archives paths relative to the working
// directory and GITHUB_WORKSPACE, so the layer cache switches both to its own root while it talks to
// the service (withCacheRoot); programs this action runs keep the step's real working directory.
import { promises as fs } from 'node:fs';

let depth = 0;
let savedCwd = '';
let savedWorkspace: string | undefined;

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
    process.chdir(root);
    process.env.GITHUB_WORKSPACE = root;
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
    }
  }
}

/** GITHUB_WORKSPACE as the step has it, also while a cache call has switched it. */
export function realWorkspace(): string | undefined {
  return depth > 0 ? savedWorkspace : process.env.GITHUB_WORKSPACE;
}
