// A run of the example project (or, with --scale-mib, the scale benchmark's project) on one
// toolchain, its log with each line's time since the entry's spawn and the gap from the line
// before: where a run's time goes, line by line. The second run (warm) is shown, or with --cold the first.
//   node scripts/trace-run.mjs [--toolchain a] [--min-gap-ms 20] [--scale-mib 1024] [--cold] [--debug]
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCacheServer } from './lib/cache-server.mjs';
import { runJob, loadAction } from './lib/runner.mjs';
import { actionNode } from './lib/action-node.mjs';
import { useToolchain, pushContext } from './lib/bench-env.mjs';
import { writeScaleProject } from './lib/scale-project.mjs';
import { scaleProject } from './bench-scale.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const SECRET = 'trace-secret-value-0123456789';

async function main() {
  const desc = await useToolchain(opt('toolchain', 'a'));
  const minGap = Number(opt('min-gap-ms', '20'));
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-trace-'));
  const cache = await startCacheServer({ dir: path.join(tmp, 'cache') });
  const ws = path.join(tmp, 'ws');
  const scaleMib = Number(opt('scale-mib', '0'));
  if (scaleMib) await writeScaleProject(ws, scaleProject(scaleMib * 2 ** 20));
  else await fs.cp(path.join(ROOT, 'example'), ws, { recursive: true });
  const image = `127.0.0.1:5000/bench/trace-${Date.now().toString(36)}`;
  let n = 0;
  const once = async () => {
    execFileSync('docker', ['buildx', 'prune', '-af'], { stdio: 'ignore' });
    const context = await pushContext(++n, ws, tmp, cache);
    return runJob({
      actionDir: ROOT,
      node: actionNode(loadAction(ROOT).runs.using).bin,
      // The scale project needs no secret (as in the scale benchmark).
      inputs: scaleMib ? { images: image } : { images: image, secrets: `npm_token=${SECRET}` },
      context,
      env: cache.env(),
      secrets: [SECRET],
      debug: args.includes('--debug'),
      timeoutMs: 600_000,
    });
  };
  const cold = await once();
  const r = args.includes('--cold') ? cold : await once();
  console.log(
    `${r === cold ? 'Cold' : 'Warm'} run on ${desc}: main ${r.main.durationMs} ms (first line at ${r.main.firstOutputMs}), post ${r.post?.durationMs} ms`,
  );
  for (const [name, step] of [
    ['main', r.main],
    ['post', r.post],
  ]) {
    if (!step) continue;
    const lines = step.log.split('\n');
    let prev = 0;
    step.logMs.forEach((ms, i) => {
      const gap = ms - prev;
      prev = ms;
      if (gap >= minGap || lines[i].startsWith('[group]'))
        console.log(`${name} ${String(ms).padStart(5)} +${String(gap).padStart(4)}  ${lines[i].slice(0, 150)}`);
    });
  }
  await cache.close();
  await fs.rm(tmp, { recursive: true, force: true });
}
main().catch((e) => (console.error(e), process.exit(1)));
