// What both benchmarks (scripts/bench.mjs and scripts/bench-scale.mjs) need to run on the test
// matrix's toolchains: their env files, and pointing this process at one of them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Where scripts/toolchains.sh writes each toolchain's env file (NAME.env). */
export const ENV_DIR = path.join(process.env.SETUP_ENV_STATE || '/var/tmp/oneshot-build-env', 'toolchains');

/** This process's environment as it started, before any toolchain's variables. */
const BASE_ENV = { ...process.env };

/**
 * Points this process (and so docker and the action it runs) at one toolchain's daemon: its env
 * file's variables over the starting environment, OBC_PATH_PREPEND before PATH. Returns its
 * description.
 */
export async function useToolchain(name) {
  for (const k of Object.keys(process.env)) if (!(k in BASE_ENV)) delete process.env[k];
  Object.assign(process.env, BASE_ENV);
  const text = await fs.readFile(path.join(ENV_DIR, `${name}.env`), 'utf8');
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) process.env[m[1]] = m[2];
  }
  if (process.env.OBC_PATH_PREPEND) process.env.PATH = `${process.env.OBC_PATH_PREPEND}:${BASE_ENV.PATH}`;
  return process.env.OBC_TOOLCHAIN_DESC || name;
}

/** The middle value (the upper one of an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
