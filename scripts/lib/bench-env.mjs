// What both benchmarks (scripts/bench.mjs and scripts/bench-scale.mjs) need to run on the test
// matrix's toolchains: their env files, and pointing this process at one of them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { contextFor } from './runner.mjs';

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

/**
 * Where one entry's time went, from the runner's timeline: the Node start and imports (spawn to the
 * first line), each log group, the time outside any group, and the exit after the last line.
 * @returns {[string, number][]} phase name -> ms
 */
function entryPhases(entry, step) {
  if (!step) return [];
  const out = [[`${entry}: node start and imports (spawn to first line)`, step.firstOutputMs]];
  let inGroups = 0;
  for (const g of step.timeline) {
    const end = g.endMs ?? step.lastOutputMs;
    out.push([`${entry}: ${g.name}`, end - g.startMs]);
    inGroups += end - g.startMs;
  }
  out.push([`${entry}: outside groups`, Math.max(0, step.lastOutputMs - step.firstOutputMs - inGroups)]);
  out.push([`${entry}: exit after the last line`, Math.max(0, step.durationMs - step.lastOutputMs)]);
  out.push([`${entry}: total`, step.durationMs]);
  return out;
}

export function phasesOf(job) {
  return [...entryPhases('main', job.main), ...entryPhases('post', job.post)];
}

/** Per phase name, the median over runs (a phase missing from a run counts as 0 there). */
export function medianPhases(runs) {
  const names = [...new Set(runs.flatMap((r) => r.map(([n]) => n)))];
  return names.map((n) => [n, median(runs.map((r) => r.find(([m]) => m === n)?.[1] ?? 0))]);
}

/** Prints a phase breakdown ([name, ms][]) as a markdown table. */
export function printPhases(phases) {
  console.log('| entry | phase | s |');
  console.log('|---|---|---|');
  for (const [phase, ms] of phases) console.log(`| ${phase.split(': ')[0]} | ${phase.split(': ').slice(1).join(': ')} | ${(ms / 1000).toFixed(2)} |`);
}

/**
 * A push to main of acme/app at commit number `n`, on a fresh runner temp under `tmp`, with the
 * local cache service's URL and token: what every benchmark run gets.
 */
export async function pushContext(n, workspace, tmp, cache) {
  return contextFor({
    eventName: 'push',
    ref: 'refs/heads/main',
    sha: n.toString(16).padStart(40, '0'),
    repository: 'acme/app',
    workspace,
    runnerTemp: await fs.mkdtemp(path.join(tmp, 'rt-')),
    payload: { repository: { name: 'app', full_name: 'acme/app', default_branch: 'main', html_url: 'https://github.com/acme/app' } },
    resultsUrl: cache.env().ACTIONS_RESULTS_URL,
    runtimeToken: cache.env().ACTIONS_RUNTIME_TOKEN,
  });
}
