// The action under GitHub's own local runner for JavaScript actions, @github/local-action: it
// imports the entry points (src/main.ts, src/post.ts), calls their exported run() in its own
// process, and stands in for @actions/core and @actions/cache. A dry run, and a real build that
// pushes to the local registry and saves its layer cache in local-action's cache directory. It runs
// with the Node that runs.using names (Node 24) first in PATH, so tsx runs the action with it.
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { runnerProcessEnv } from '../../scripts/lib/runner.mjs';
import { ROOT, actionNodeFor, registryDigest, sha256, tempDir, uniqueRepo } from './harness.js';

jest.setTimeout(5 * 60 * 1000);

const CLI = path.join(ROOT, 'node_modules/@github/local-action/bin/local-action.js');
const SECRET = 'local-action-secret-value-7f3a';

interface LocalRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  /** `::error::` lines: local-action exits 0 also when the action failed. */
  errors: string[];
}

/** The single-line outputs the stand-in @actions/core printed as `::set-output name=x::value`. */
function outputsOf(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^::set-output name=([\w-]+)::(.*)$/gm)) out[m[1]] = m[2];
  return out;
}

/**
 * Runs `local-action . src/main.ts <env file> --post src/post.ts` in this checkout, as the README
 * says (local-action starts its tsx with `npm exec` there). The checkout is the workspace, so the
 * context is the fixture's path in it.
 */
async function localAction(vars: Record<string, string>): Promise<LocalRun> {
  const dir = await tempDir('la');
  const envFile = path.join(dir, '.env');
  // dotenv: one KEY=value a line; a value with a newline goes in double quotes as \n.
  const lines = Object.entries(vars).map(([k, v]) => (v.includes('\n') ? `${k}="${v.replace(/\n/g, '\\n')}"` : `${k}=${v}`));
  await fs.writeFile(envFile, `${lines.join('\n')}\n`);
  const node = actionNodeFor();
  const env = { ...runnerProcessEnv(process.env), PATH: `${path.dirname(node.bin)}:${process.env.PATH}` };
  const args = [CLI, '.', 'src/main.ts', envFile, '--post', 'src/post.ts'];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, outputs: outputsOf(stdout), errors: [...stdout.matchAll(/^::error::(.*)$/gm)].map((m) => m[1]) };
}

const CONTEXT = '__tests__/fixtures/projects/app';

async function runnerVars(): Promise<Record<string, string>> {
  return {
    INPUT_CONTEXT: CONTEXT,
    GITHUB_EVENT_NAME: 'push',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SHA: 'c'.repeat(40),
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_WORKSPACE: ROOT,
    RUNNER_TEMP: await tempDir('la-rt'),
  };
}

test('a dry run: main and post run through local-action, on Node 24, and set the outputs', async () => {
  const repo = uniqueRepo('local-action-dry');
  const r = await localAction({ ...(await runnerVars()), INPUT_IMAGES: repo, 'INPUT_DRY-RUN': 'true', INPUT_SECRETS: `token=${SECRET}` });
  expect([r.code, r.errors]).toEqual([0, []]);
  expect(r.stdout).toContain(`Running on Node.js ${actionNodeFor().version}.`);
  expect(r.stdout).toMatch(/Dry run: docker buildx build .*--secret 'id=token,src=<file>'/);
  expect(r.stdout).toMatch(/Running Post Step/);
  expect(r.outputs.tags).toBe(`${repo}:main`);
  expect(r.outputs['cache-key']).toMatch(/^obc1-idx-/);
  expect(await registryDigest(repo, 'main')).toBeUndefined();
});

test('a real build: pushed to the local registry, layer cache saved, cleaned up', async () => {
  const repo = uniqueRepo('local-action');
  const cacheDir = await tempDir('la-cache');
  const r = await localAction({
    ...(await runnerVars()),
    // local-action's @actions/cache keeps entries in LOCAL_ACTION_CACHE_PATH (its scratch space in
    // LOCAL_ACTION_WORKSPACE); the action only checks that a cache service is named.
    ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/',
    LOCAL_ACTION_CACHE_PATH: cacheDir,
    LOCAL_ACTION_WORKSPACE: await tempDir('la-ws'),
    INPUT_IMAGES: repo,
    INPUT_SECRETS: `token=${SECRET}`,
    'INPUT_BUILD-ARGS': `EXPECTED_DIGEST=${sha256(SECRET)}`,
  });
  expect([r.code, r.errors]).toEqual([0, []]);
  expect(r.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(r.outputs.digest).toBe(await registryDigest(repo, 'main'));
  expect(r.stdout).toMatch(/Layer cache: saved obc1-idx-/);
  expect(readdirSync(cacheDir).some((f) => f.startsWith('obc1-idx-'))).toBe(true);
  expect(r.stdout).not.toContain(SECRET);
});
