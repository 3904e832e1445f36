// The `test-run` input: shell commands run after the build, on the image loaded into the local
// image store, before anything is pushed or exported. A failure fails the step and pushes nothing.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { run } from '../exec.js';

/** A failed test-run: the build succeeded (its cache export is known), the commands did not. */
export class TestFailedError extends Error {
  constructor(
    readonly exitCode: number,
    /** The cache export BuildKit reported for the build, so that post can still save it. */
    readonly cacheDigest: string | undefined,
    /** How long the build took (the summary and the saved cache record it). */
    readonly buildMs?: number,
  ) {
    super(`test-run: the commands failed with exit code ${exitCode}; nothing was pushed or exported`);
  }
}

export interface TestOutcome {
  exitCode: number;
  ms: number;
}

/** Pure: the commands' environment on top of the docker environment (no secret-envs, no INPUT_*). */
export function testEnv(base: Record<string, string>, image: string, imageId: string, tags: string[]): Record<string, string> {
  return { ...base, OBC_IMAGE: image, OBC_IMAGE_ID: imageId, OBC_TAGS: tags.join('\n') };
}

/**
 * Runs the commands with bash (-e, -o pipefail: the first failing command fails the test, as a
 * workflow `run:` step), in the workspace, in the "Test" log group. Never throws for a failing
 * command: the caller decides.
 */
export async function runTestCommands(script: string, o: { root: string; cwd: string; env: Record<string, string> }): Promise<TestOutcome> {
  const file = path.join(o.root, 'test-run.sh');
  await fs.mkdir(o.root, { recursive: true });
  await fs.writeFile(file, `${script}\n`, { mode: 0o600 });
  const started = Date.now();
  try {
    return await core.group('Test (test-run)', async () => {
      core.info(`Image under test: ${o.env.OBC_IMAGE} (in the commands' environment as $OBC_IMAGE)`);
      const r = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], { env: o.env, cwd: o.cwd, ignoreReturnCode: true, view: null });
      const ms = Date.now() - started;
      core.info(r.exitCode === 0 ? `test-run: passed in ${ms} ms.` : `test-run: failed with exit code ${r.exitCode}.`);
      return { exitCode: r.exitCode, ms };
    });
  } finally {
    await fs.rm(file, { force: true });
  }
}
