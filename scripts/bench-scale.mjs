// The scale part of the benchmark (npm run bench -- --scale): a generated project whose cache is
// about 1 GiB in some 150 layers (6 stages of 25 layers: small COPY and RUN steps, RUN steps that
// write random bytes, COPY steps of deterministic pseudo-random files, then the stage's source file
// and a RUN that reads it; a final stage copies a small file out of each), against the real Docker
// Engine, buildx, registry and the local cache service. Every run is on a fresh runner: pruned
// builder, no image of an earlier run in the daemon. Scenarios: cold save, warm restore (no change),
// a one-file change (the last stage's source file), ten changed runs, and a run after the service
// evicted one blob entry, and one after it evicted the entry holding the base image's layer; then buildx alone with a type=local cache on local disk, cold, warm and
// the same change. The cold run is measured --cold-reps times, alternating with buildx alone's cold
// run; each of these cold runs builds the project with its own seed (new bytes in every COPY'd
// file) and pushes to a new repository, so that no push finds its layers in the registry already
// (a push mounts a layer another repository holds instead of uploading it). The medians are compared: one cold build varies by several seconds from run to run on this machine.
// Prints numbers; asserts nothing.
//   npm run bench -- --scale [--toolchains c,a] [--scale-mib 1024] [--changed-runs 10] [--cold-reps 3]
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCacheServer } from './lib/cache-server.mjs';
import { runJob } from './lib/runner.mjs';
import { ENV_DIR, median, phasesOf, printPhases, useToolchain, pushContext } from './lib/bench-env.mjs';
import { changeOneFile, writeScaleProject } from './lib/scale-project.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sh = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).toString();
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const pct = (n, of) => `${((n / of) * 100).toFixed(2)}%`;

/** The project: `total` bytes of cache, 70% in COPY'd files and 30% written by RUN steps. */
export function scaleProject(total) {
  const stages = 6;
  const bigPerStage = 6;
  const runPerStage = 4;
  return {
    stages,
    steps: 25,
    bigPerStage,
    runPerStage,
    sourceLast: true,
    bigBytes: Math.round((total * 0.7) / (stages * bigPerStage)),
    runBytes: Math.round((total * 0.3) / (stages * runPerStage)),
  };
}

/** A fresh runner's daemon: no image of `repo` and (with `builder`, that one's) no build cache. */
function freshRunner(repo, builder) {
  const ids = sh('docker', ['images', '-q', repo]).split('\n').filter(Boolean);
  if (ids.length) sh('docker', ['rmi', '-f', ...new Set(ids)]);
  sh('docker', ['buildx', 'prune', '-af', ...(builder ? ['--builder', builder] : [])]);
}

async function benchOn(name, o) {
  const desc = await useToolchain(name);
  const containerBuilder = /docker-container/.test(desc);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-bench-scale-'));
  const cache = await startCacheServer({ dir: path.join(tmp, 'cache') });
  const ws = path.join(tmp, 'ws');
  await fs.mkdir(ws);
  const project = scaleProject(o.totalBytes);
  const seeded = (seed) => writeScaleProject(ws, { ...project, seed });
  const base = `obc-scale-${Date.now().toString(36)}`;
  const { layers } = await seeded(`${base}-a0`);
  const image = `127.0.0.1:5000/bench/scale-${Date.now().toString(36)}`;
  let commit = 0;
  let version = 0;

  /** The COPY and RUN steps of the last build attempt in a log, and how many of them were cached. */
  function stepsCached(log) {
    const retry = log.lastIndexOf('building again without');
    const last = retry >= 0 ? log.slice(retry) : log;
    const ids = new Set([...last.matchAll(/^#(\d+) \[[^\]]*\d+\/\d+\] (?:COPY|RUN) /gm)].map((m) => m[1]));
    const cached = [...ids].filter((id) => last.includes(`\n#${id} CACHED\n`)).length;
    return { all: ids.size, cached };
  }

  async function actionRun(img = image) {
    freshRunner(img);
    cache.resetLog();
    const context = await pushContext(++commit, ws, tmp, cache);
    const t0 = process.hrtime.bigint();
    const r = await runJob({ actionDir: ROOT, inputs: { images: img }, context, env: cache.env(), timeoutMs: 1_200_000 });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.main.exitCode !== 0 || r.post?.exitCode !== 0) throw new Error(`action failed:\n${r.log.slice(-4000)}`);
    const log = cache.log();
    return {
      wall,
      hit: r.outputs['cache-hit'],
      up: log.filter((l) => l.kind === 'upload').reduce((s, l) => s + l.bytesIn, 0),
      down: log.filter((l) => l.kind === 'download').reduce((s, l) => s + l.bytesOut, 0),
      entriesUp: log.filter((l) => l.kind === 'finalize' && l.status === 200).length,
      entriesDown: log.filter((l) => l.kind === 'download' && l.bytesOut > 0).length,
      stored: cache.stats().totalBytes,
      retried: r.log.includes('building again without'),
      steps: stepsCached(r.log),
      basesPulled: r.log.includes('base image layers; the builder pulled'),
      phases: phasesOf(r),
    };
  }

  // buildx alone: a type=local cache on local disk, the same push, no service.
  let builder;
  if (containerBuilder) {
    builder = `obc-bench-scale-${Date.now().toString(36)}`;
    sh('docker', ['buildx', 'create', '--name', builder, '--driver', 'docker-container', '--driver-opt', 'network=host', '--bootstrap']);
  }
  const local = path.join(tmp, 'local-cache');
  const bx = (extra, img = image) => {
    freshRunner(img, builder);
    const t0 = process.hrtime.bigint();
    sh('docker', [
      'buildx',
      'build',
      ...(builder ? ['--builder', builder] : []),
      '--progress',
      'plain',
      '--provenance=mode=min',
      '--tag',
      `${img}:bx`,
      '--push',
      ...extra,
      ws,
    ]);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  const rows = [];
  const row = (label, r) => (rows.push({ label, ...r }), rows.at(-1));
  // Cold, alternating with buildx alone's cold run; the action's last cold run seeds the cache and
  // the registry repository of the runs after it.
  const colds = [];
  const bxColds = [];
  for (let i = 0; i < o.coldReps; i++) {
    if (i) cache.reset({ entries: true });
    if (i) await seeded(`${base}-a${i}`);
    colds.push(await actionRun(i === o.coldReps - 1 ? image : `${image}-cold${i}`));
    await fs.rm(local, { recursive: true, force: true });
    await seeded(`${base}-b${i}`);
    bxColds.push(bx(['--cache-to', `type=local,dest=${local},mode=max`], `${image}-bxcold${i}`));
  }
  const cold = row(o.coldReps > 1 ? `cold save (empty cache; median of ${o.coldReps}, entries: most)` : 'cold save (empty cache)', {
    ...colds.at(-1),
    wall: median(colds.map((r) => r.wall)),
    entriesUp: Math.max(...colds.map((r) => r.entriesUp)),
  });
  const full = cold.stored;
  // The project of the action's last cold run, whose cache the runs below restore.
  await seeded(`${base}-a${o.coldReps - 1}`);
  row('warm restore, no change', await actionRun());
  await changeOneFile(ws, project, ++version);
  row('one-file change (last stage)', await actionRun());
  const changed = [];
  for (let i = 0; i < o.changedRuns; i++) {
    await changeOneFile(ws, project, ++version);
    changed.push(await actionRun());
  }
  if (changed.length) {
    rows.push({
      label: `${changed.length} changed runs (median; entries: most)`,
      wall: median(changed.map((r) => r.wall)),
      hit: changed.at(-1).hit,
      up: median(changed.map((r) => r.up)),
      down: median(changed.map((r) => r.down)),
      entriesUp: Math.max(...changed.map((r) => r.entriesUp)),
      entriesDown: Math.max(...changed.map((r) => r.entriesDown)),
      stored: changed.at(-1).stored,
    });
  }
  // Eviction: the service drops the largest blob entry; a change then needs the last stage's layers.
  const blobEntries = cache
    .entries()
    .filter((e) => !e.key.startsWith('obc1-idx-'))
    .sort((a, b) => b.size - a.size);
  const evicted = blobEntries[0];
  cache.evict([evicted.key]);
  await changeOneFile(ws, project, ++version);
  const afterEviction = row(`after eviction of one blob entry (${mib(evicted.size)}), one-file change`, await actionRun());
  // The worst case: the entry holding the base image's layer, on which every cached chain starts
  // (the builder pulls the base image again). Skipped when that was the entry evicted above.
  const baseEntry = await baseLayerEntry(cache);
  let afterBaseEviction;
  if (baseEntry && baseEntry.key !== evicted.key) {
    cache.evict([baseEntry.key]);
    await changeOneFile(ws, project, ++version);
    afterBaseEviction = row(`after eviction of the blob entry holding the base image's layer (${mib(baseEntry.size)}), one-file change`, await actionRun());
  }

  // After the repairs: the next fresh run with no change must find every step in the cache again.
  const repaired = row('the next run after the repairs, no change', await actionRun());

  // The project of buildx alone's last cold run, whose local cache the runs below read.
  await seeded(`${base}-b${o.coldReps - 1}`);
  const bxCold = median(bxColds);
  const bxWarm = bx(['--cache-from', `type=local,src=${local}`, '--cache-to', `type=local,dest=${path.join(tmp, 'bx-out')},mode=max`]);
  await changeOneFile(ws, project, ++version);
  const bxChange = bx(['--cache-from', `type=local,src=${local}`, '--cache-to', `type=local,dest=${path.join(tmp, 'bx-out2')},mode=max`]);
  if (builder) sh('docker', ['buildx', 'rm', '--force', builder]);
  await cache.close();

  const docker = sh('docker', ['version', '--format', '{{.Server.Version}}']).trim();
  console.log(
    `\nScale benchmark on toolchain ${name} (${desc}): ${layers} layers, cache ${mib(full)} stored after the cold run; fresh runner (pruned builder, no earlier image) before every run`,
  );
  console.log(`Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Docker ${docker}, local cache service on loopback\n`);
  console.log('| scenario | cache-hit | wall main+post (s) | uploaded | entries uploaded | downloaded | entries downloaded | stored total |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${r.hit}${r.retried ? ' (retried)' : ''} | ${r.wall.toFixed(1)} | ${mib(r.up)} (${pct(r.up, full)}) | ${r.entriesUp} | ${mib(r.down)} (${pct(r.down, full)}) | ${r.entriesDown} | ${mib(r.stored)} |`,
    );
  console.log(
    `| buildx alone, type=local cache on local disk: cold / warm / one-file change | - | ${bxCold.toFixed(1)} / ${bxWarm.toFixed(1)} / ${bxChange.toFixed(1)} | - | - | - | - | - |`,
  );
  const warm = rows[1];
  const change = rows[2];
  console.log('');
  const runs = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
  console.log(`cold runs, alternating: this action ${runs(colds.map((r) => r.wall))} s; buildx alone ${runs(bxColds)} s`);
  console.log(`cold / buildx alone cold (medians): ${(cold.wall / bxCold).toFixed(2)}x (goal <= 1.1x)`);
  console.log(`warm / buildx alone warm: ${(warm.wall / bxWarm).toFixed(2)}x; one-file change / buildx alone: ${(change.wall / bxChange).toFixed(2)}x`);
  console.log(`one-file change uploads ${pct(change.up, full)} of the cache (goal <= 2%); warm restore downloads ${pct(warm.down, full)} (goal <= 1%)`);
  console.log(`most entries uploaded by one run: ${Math.max(...rows.map((r) => r.entriesUp))} (goal <= 5)`);
  const stepsLine = (r) => `${r.steps.cached} of ${r.steps.all} COPY/RUN steps cached${r.basesPulled ? ', base image pulled again' : ''}`;
  console.log(
    `after the eviction: uploaded ${mib(afterEviction.up)} in ${afterEviction.entriesUp} entries (the evicted entry held ${mib(evicted.size)}); ${stepsLine(afterEviction)}`,
  );
  if (afterBaseEviction)
    console.log(
      `after the base layer's eviction: uploaded ${mib(afterBaseEviction.up)} in ${afterBaseEviction.entriesUp} entries (the evicted entry held ${mib(baseEntry.size)}); ${stepsLine(afterBaseEviction)}`,
    );
  else console.log(`the base image's layer was in the entry evicted first${baseEntry ? '' : ' (or in no blob entry)'}`);
  console.log(`the next run after the repairs (no change): ${repaired.hit}, ${stepsLine(repaired)}, downloaded ${mib(repaired.down)}`);
  for (const r of [cold, warm, change]) {
    console.log(`\nWhere the ${r.label} spent its time (seconds; groups are the log groups of the step):\n`);
    printPhases(r.phases);
  }
  await fs.rm(tmp, { recursive: true, force: true });
}

/**
 * The blob entry of the newest index that holds the base image's layer (the one layer without a
 * parent), with its size; undefined when the base layer is in the index entry itself.
 */
async function baseLayerEntry(cache) {
  const stored = JSON.parse(await fs.readFile(path.join(cache.dir, 'index.json'), 'utf8')).entries;
  const idx = stored.filter((e) => e.key.startsWith('obc1-idx-')).sort((a, b) => b.createdAtMs - a.createdAtMs)[0];
  if (!idx) return undefined;
  const x = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-bench-idx-'));
  try {
    execFileSync('tar', ['-I', 'zstd -d --long=30', '-xf', path.join(cache.dir, 'blobs', idx.blob), '-C', x], { stdio: 'ignore' });
    const metaFile = execFileSync('find', [x, '-name', 'meta.json'], { encoding: 'utf8' }).trim().split('\n')[0];
    const meta = JSON.parse(await fs.readFile(metaFile, 'utf8'));
    const roots = meta.image.config.layers.filter((l) => l.parent === -1).map((l) => l.blob);
    const key = roots.map((b) => meta.entries[b]).find(Boolean);
    return key ? cache.entries().find((e) => e.key === key) : undefined;
  } finally {
    await fs.rm(x, { recursive: true, force: true });
  }
}

export async function main(args) {
  const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
  const names = opt('toolchains', 'c,a')
    .split(',')
    .filter((n) => existsSync(path.join(ENV_DIR, `${n}.env`)));
  const o = {
    totalBytes: Number(opt('scale-mib', '1024')) * 2 ** 20,
    changedRuns: Number(opt('changed-runs', '10')),
    coldReps: Math.max(1, Number(opt('cold-reps', '3'))),
  };
  try {
    await fs.access(path.join(ROOT, 'dist/main/index.js'));
  } catch {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  for (const name of names) await benchOn(name, o);
}
