#!/usr/bin/env node
// Benchmark of the layer cache, against the real Docker Engine, buildx, registry and the local
// cache service: cold, warm with no change, warm with a last-stage change (each on a pruned
// builder, like a fresh runner), ten changed runs, and the lower bound (buildx with the cache
// directory already on local disk, no service). Prints numbers; asserts nothing. Runs on every
// toolchain of the test matrix it finds (scripts/toolchains.sh env files: a, b, c), one table each,
// then the key figures side by side.
//   npm run bench [-- --reps 3 --context example --toolchains a,b,c]
//   npm run bench -- --scale [...]: the scale scenarios instead (scripts/bench-scale.mjs)
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCacheServer } from './lib/cache-server.mjs';
import { runJob, loadAction } from './lib/runner.mjs';
import { actionNode } from './lib/action-node.mjs';
import { ENV_DIR, median, medianPhases, phasesOf, printPhases, useToolchain, pushContext } from './lib/bench-env.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const REPS = Number(opt('reps', '3'));
const CONTEXT = path.resolve(ROOT, opt('context', 'example'));
const SECRET = 'bench-token-value';
const IMAGE = `127.0.0.1:5000/bench/app-${Date.now().toString(36)}`;

const sh = (cmd, argv, o = {}) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...o }).toString();
let lbBuilder;
const prune = () => sh('docker', ['buildx', 'prune', '-af', ...(lbBuilder ? ['--builder', lbBuilder] : [])]);

const mb = (n) => (n / 1024 / 1024).toFixed(2);
const size = (n) => (n >= 1024 * 1024 ? `${mb(n)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

async function main() {
  const wanted = opt('toolchains', '');
  let names = wanted ? wanted.split(',') : ['a', 'b', 'c'];
  execFileSync('bash', [path.join(ROOT, 'scripts/setup-env.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('bash', [path.join(ROOT, 'scripts/toolchains.sh'), 'up', ...names], { stdio: ['ignore', 'ignore', 'inherit'] });
  names = names.filter((n) => existsSync(path.join(ENV_DIR, `${n}.env`)));
  try {
    await fs.access(path.join(ROOT, 'dist/main/index.js'));
  } catch {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const results = [];
  for (const name of names) results.push(await benchOn(name));
  if (results.length > 1) {
    console.log('\nSide by side (seconds, median; lower bound: buildx alone with the cache on local disk)\n');
    console.log(
      `| toolchain | cold | warm, no change | lower bound | ratio | last-stage change | uploaded by the change | downloaded warm | stored after ten changes |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      console.log(
        `| ${r.name}: ${r.desc} | ${r.cold.wall.toFixed(2)} | ${r.warm.wall.toFixed(2)} | ${r.lowerBound.toFixed(2)} | ${(r.warm.wall / r.lowerBound).toFixed(2)}x | ${r.lastStage.wall.toFixed(2)} | ${((r.lastStage.up / r.cold.up) * 100).toFixed(2)}% | ${((r.warm.down / r.cold.stored) * 100).toFixed(2)}% | ${(r.afterTen / r.cold.stored).toFixed(2)}x |`,
      );
    }
  }
}

async function benchOn(name) {
  const desc = await useToolchain(name);
  const containerBuilder = /docker-container/.test(desc);
  lbBuilder = undefined;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-bench-'));
  const cache = await startCacheServer({ dir: path.join(tmp, 'cache') });
  const ws = path.join(tmp, 'ws');
  await fs.cp(CONTEXT, ws, { recursive: true });
  const srcFile = path.join(ws, 'src/hello.txt');
  let commit = 0;

  async function actionRun() {
    prune();
    const before = cache.stats();
    cache.resetLog();
    const context = await pushContext(++commit, ws, tmp, cache);
    const t0 = process.hrtime.bigint();
    const r = await runJob({
      actionDir: ROOT,
      node: actionNode(loadAction(ROOT).runs.using).bin,
      inputs: { images: IMAGE, secrets: `npm_token=${SECRET}` },
      context,
      env: cache.env(),
      secrets: [SECRET],
      timeoutMs: 600_000,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.main.exitCode !== 0 || r.post?.exitCode !== 0) throw new Error(`action failed:\n${r.log.slice(-4000)}`);
    const after = cache.stats();
    const log = cache.log();
    // Eager fetching logs its restore time; lazy fetching logs the service time of the index and of
    // every blob BuildKit asked for, after the build.
    const restoreMs = Number(
      (/(\d+) ms in the cache service in all/.exec(r.log) ?? /Layer cache: \w+, \d+ bytes from \d+ entries in (\d+) ms/.exec(r.log))?.[1] ?? 0,
    );
    const saveMs = Number(/Layer cache save: \d+ entries, \d+ bytes, (\d+) ms/.exec(r.log)?.[1] ?? 0);
    return {
      wall,
      cacheSeconds: (restoreMs + saveMs) / 1000,
      up: log.filter((l) => l.kind === 'upload').reduce((s, l) => s + l.bytesIn, 0),
      down: log.filter((l) => l.kind === 'download').reduce((s, l) => s + l.bytesOut, 0),
      entries: log.filter((l) => l.kind === 'finalize' && l.status === 200).length,
      stored: after.totalBytes,
      hit: r.outputs['cache-hit'],
      newStoredBytes: after.totalBytes - before.totalBytes,
      phases: phasesOf(r),
    };
  }

  const rows = [];
  const scenario = async (name, prepare, reps = REPS) => {
    const rs = [];
    for (let i = 0; i < reps; i++) {
      if (prepare) await prepare(i);
      rs.push(await actionRun());
    }
    const row = {
      name,
      runs: rs.length,
      hit: rs[rs.length - 1].hit,
      wall: median(rs.map((r) => r.wall)),
      cacheSeconds: median(rs.map((r) => r.cacheSeconds)),
      up: median(rs.map((r) => r.up)),
      down: median(rs.map((r) => r.down)),
      entries: Math.max(...rs.map((r) => r.entries)),
      stored: rs[rs.length - 1].stored,
      phases: medianPhases(rs.map((r) => r.phases)),
    };
    rows.push(row);
    return row;
  };

  const cold = await scenario('cold (empty cache)', null, 1);
  const fullCache = cold.stored;
  await scenario('warm, no change', null);
  let v = 0;
  const lastStage = await scenario('warm, last-stage change', async () => fs.writeFile(srcFile, `hello ${++v}\n`));
  const tenStart = cache.stats().totalBytes;
  await scenario('ten changed runs (last one shown)', async () => fs.writeFile(srcFile, `hello ${++v}\n`), 10);
  const afterTen = cache.stats().totalBytes;

  // Lower bound: buildx with the cache already on local disk, the same push, no service.
  const local = path.join(tmp, 'local-cache');
  const secretFile = path.join(tmp, 'secret');
  await fs.writeFile(secretFile, SECRET);
  const bx = (extra) =>
    sh('docker', [
      'buildx',
      'build',
      '--progress',
      'plain',
      '--secret',
      `id=npm_token,src=${secretFile}`,
      '--provenance=mode=min',
      '--tag',
      `${IMAGE}:lb`,
      '--push',
      ...extra,
      ws,
    ]);
  if (containerBuilder) {
    // As the action makes it (and setup-buildx would): a docker-container builder on the host network.
    lbBuilder = `obc-bench-lb-${Date.now().toString(36)}`;
    sh('docker', ['buildx', 'create', '--name', lbBuilder, '--driver', 'docker-container', '--driver-opt', 'network=host', '--bootstrap']);
  }
  const bxBuilder = lbBuilder ? ['--builder', lbBuilder] : [];
  prune();
  bx([...bxBuilder, '--cache-to', `type=local,dest=${local},mode=max`]);
  const lb = [];
  for (let i = 0; i < REPS; i++) {
    prune();
    const out = path.join(tmp, `lb-out-${i}`);
    const t0 = process.hrtime.bigint();
    bx([...bxBuilder, '--cache-from', `type=local,src=${local}`, '--cache-to', `type=local,dest=${out},mode=max`]);
    lb.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const lowerBound = median(lb);
  if (lbBuilder) sh('docker', ['buildx', 'rm', '--force', lbBuilder]);
  lbBuilder = undefined;
  const warm = rows[1];

  await cache.close();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const docker = sh('docker', ['version', '--format', '{{.Server.Version}}']).trim();
  const buildx = sh('docker', ['buildx', 'version']).trim().split(/\s+/)[1];
  console.log(
    `\nLayer cache benchmark on toolchain ${name} (${desc}): ${path.relative(ROOT, CONTEXT) || CONTEXT}, ${REPS} runs per scenario (median), pruned builder before every run${containerBuilder ? '; the action creates a new builder every run, the lower bound reuses one' : ''}`,
  );
  console.log(
    `Machine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Docker ${docker}, buildx ${buildx}, local cache service on loopback\n`,
  );
  console.log('| Scenario | cache-hit | wall main+post (s) | in cache service (s) | uploaded | downloaded | entries uploaded | stored total |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.hit} | ${r.wall.toFixed(2)} | ${r.cacheSeconds.toFixed(2)} | ${size(r.up)} | ${size(r.down)} | ${r.entries} | ${size(r.stored)} |`,
    );
  console.log(`| lower bound: buildx, cache already on local disk, no service | - | ${lowerBound.toFixed(2)} | - | - | - | - | - |`);
  console.log('');
  console.log(
    `warm no-change / lower bound: ${(warm.wall / lowerBound).toFixed(2)}x (target <= 1.3x); over buildx alone: ${(warm.wall - lowerBound).toFixed(2)} s (target <= 0.3 s)`,
  );
  console.log('\nWhere a warm run with no change spends its time (median of the runs, seconds; groups are the log groups of the step):\n');
  printPhases(warm.phases);
  console.log('');
  console.log(`last-stage change uploads ${size(lastStage.up)}, ${((lastStage.up / cold.up) * 100).toFixed(2)}% of the full cache upload (target < 10%)`);
  console.log(
    `stored total after ten changed runs: ${(afterTen / fullCache).toFixed(2)}x one cache (target < 1.5x; grew ${mb(afterTen - tenStart)} MiB over the ten runs)`,
  );
  console.log(`most entries uploaded by one run: ${Math.max(...rows.map((r) => r.entries))} (target <= 5)`);
  await fs.rm(tmp, { recursive: true, force: true });
  return { name, desc, cold, warm, lastStage, lowerBound, afterTen };
}

(args.includes('--scale') ? import('./bench-scale.mjs').then((m) => m.main(args)) : main()).catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
