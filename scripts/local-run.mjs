#!/usr/bin/env node
// `npm run local`: runs the bundled action (dist/) on this machine the way a GitHub runner would,
// for a given event and ref, against the local registry (127.0.0.1:5000) and a local Actions cache
// service that keeps its entries under .local/cache between runs. Prints the log as it goes, then
// where the image went and the job summary.
//
//   npm run local -- [--event push|pull_request|tag|NAME] [--ref REF] [--context DIR] [--file PATH]
//                    [--image NAME] [--secret ID=VALUE]... [--input NAME=VALUE]... [--debug]
//                    [--state-dir DIR] [--no-setup] [--keep-temp]
//
// Default: a push to main of example/ (a multi-stage build that needs the secret npm_token), with a
// dummy npm_token, pushed as 127.0.0.1:5000/local/example.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCacheServer } from './lib/cache-server.mjs';
import { contextFor, disposeContext, loadAction, runJob } from './lib/runner.mjs';
import { actionNode } from './lib/action-node.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTRY = '127.0.0.1:5000';
const DUMMY_NPM_TOKEN = 'local-run-dummy-npm-token';

const USAGE = `usage: npm run local -- [options]

Runs the bundled action (dist/) on this machine as a GitHub runner would: main, then post, with the
local registry ${REGISTRY} and a local Actions cache service (entries kept in .local/cache).

  --event EVENT      push (default), pull_request, tag (a push of a git tag), or any event name
  --ref REF          full ref (refs/heads/x, refs/tags/v1.2.3, refs/pull/7/merge) or short:
                     a branch (push), a tag (tag, default v1.0.0), a PR number (pull_request, default 1)
  --context DIR      project to build (default: example/); it is the run's workspace
  --file PATH        Dockerfile, relative to the context (default: DIR/Dockerfile)
  --image NAME       image name (default: ${REGISTRY}/local/<context dir name>); a name without a
                     registry host is put under ${REGISTRY}/
  --secret ID=VALUE  a build secret (repeatable; default: npm_token=<dummy>)
  --input NAME=VAL   any other action input (repeatable), e.g. --input push=false
  --debug            debug logging (full buildx progress and command)
  --state-dir DIR    where the cache service keeps its entries (default: .local/)
  --no-setup         do not run scripts/setup-env.sh first
  --keep-temp        keep the runner's temporary directory`;

function fail(msg) {
  console.error(`local-run: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function pairs(list, what) {
  const out = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    // A secret's value is never echoed, even a malformed one.
    if (eq <= 0) fail(`${what}: expected NAME=VALUE${what === '--secret' ? ' (value not shown)' : `, got "${item}"`}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** The event name, ref and payload the runner would have for --event/--ref. */
export function eventFor(event, ref) {
  const repository = {
    name: 'example',
    full_name: 'local/example',
    html_url: 'https://github.com/local/example',
    default_branch: 'main',
    description: 'oneshot-build local run',
    license: { spdx_id: 'MIT' },
  };
  if (event === 'tag') {
    const full = ref?.startsWith('refs/') ? ref : `refs/tags/${ref ?? 'v1.0.0'}`;
    if (!full.startsWith('refs/tags/')) throw new Error(`--ref: a tag event needs refs/tags/..., got "${ref}"`);
    return { eventName: 'push', ref: full, payload: { ref: full, repository } };
  }
  if (event === 'pull_request' || event === 'pull_request_target') {
    const full = ref?.startsWith('refs/') ? ref : `refs/pull/${ref ?? '1'}/merge`;
    const m = /^refs\/pull\/(\d+)\/(merge|head)$/.exec(full);
    if (!m) throw new Error(`--ref: a pull request needs a number or refs/pull/N/merge, got "${ref}"`);
    const number = Number(m[1]);
    return {
      eventName: event,
      ref: full,
      payload: { number, repository, pull_request: { number, head: { ref: 'feature/local', sha: 'b'.repeat(40) }, base: { ref: 'main' } } },
    };
  }
  const full = ref?.startsWith('refs/') ? ref : `refs/heads/${ref ?? 'main'}`;
  return { eventName: event, ref: full, payload: { ref: full, repository } };
}

/** A name without a registry host goes under the local registry. */
export function imageFor(name, contextDir) {
  if (!name)
    return `${REGISTRY}/local/${path
      .basename(contextDir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-')}`;
  const first = name.split('/')[0];
  const hasHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return hasHost ? name : `${REGISTRY}/${name}`;
}

function sh(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`local-run: ${what} failed (exit ${r.status ?? r.signal}).`);
    process.exit(1);
  }
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        event: { type: 'string', default: 'push' },
        ref: { type: 'string' },
        context: { type: 'string', default: path.join(ROOT, 'example') },
        file: { type: 'string' },
        image: { type: 'string' },
        secret: { type: 'string', multiple: true },
        input: { type: 'string', multiple: true },
        debug: { type: 'boolean', default: false },
        'state-dir': { type: 'string', default: path.join(ROOT, '.local') },
        'no-setup': { type: 'boolean', default: false },
        'keep-temp': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const contextDir = path.resolve(values.context);
  if (!existsSync(contextDir)) fail(`--context: no directory ${contextDir}`);
  let ev;
  try {
    ev = eventFor(values.event, values.ref);
  } catch (err) {
    fail(err.message);
  }
  const image = imageFor(values.image, contextDir);
  const secrets = values.secret?.length ? pairs(values.secret, '--secret') : { npm_token: DUMMY_NPM_TOKEN };
  const extra = pairs(values.input, '--input');

  if (!values['no-setup']) {
    console.log('== Bringing up Docker, buildx and the registry (scripts/setup-env.sh)');
    if (process.getuid?.() === 0) sh('bash', ['scripts/setup-env.sh'], 'scripts/setup-env.sh');
    else sh('sudo', ['-n', 'bash', 'scripts/setup-env.sh'], 'sudo scripts/setup-env.sh');
  }
  if (!existsSync(path.join(ROOT, 'dist/main/index.js')) || !existsSync(path.join(ROOT, 'dist/post/index.js'))) {
    console.log('== dist/ is missing: npm run build');
    sh('npm', ['run', 'build', '--silent'], 'npm run build');
  }

  // The Node action.yml's runs.using names (node24), not the one running this script.
  let node;
  try {
    node = actionNode(loadAction(ROOT).runs.using);
  } catch (err) {
    console.error(`local-run: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  const cacheDir = path.join(path.resolve(values['state-dir']), 'cache');
  mkdirSync(cacheDir, { recursive: true });
  const cache = await startCacheServer({ dir: cacheDir });
  const cacheEnv = cache.env();
  const context = contextFor({
    eventName: ev.eventName,
    ref: ev.ref,
    repository: 'local/example',
    payload: ev.payload,
    workspace: contextDir,
    resultsUrl: cacheEnv.ACTIONS_RESULTS_URL,
    runtimeToken: cacheEnv.ACTIONS_RUNTIME_TOKEN,
  });
  const inputs = {
    images: image,
    secrets: Object.entries(secrets)
      .map(([id, v]) => `${id}=${v}`)
      .join('\n'),
    ...(values.file ? { file: values.file } : {}),
    ...extra,
  };
  console.log(`== Running the action: ${ev.eventName} ${ev.ref}, context ${path.relative(process.cwd(), contextDir) || '.'}, image ${image}`);
  console.log(
    `   Node ${node.version} (${node.overridden ? 'OBC_ACTION_NODE' : `runs.using ${loadAction(ROOT).runs.using}`}): ${path.relative(process.cwd(), node.bin) || node.bin}`,
  );
  console.log(`   cache service ${cache.url} (entries in ${path.relative(process.cwd(), cacheDir)}), runner temp ${context.runnerTemp}\n`);
  let job;
  try {
    job = await runJob({
      actionDir: ROOT,
      node: node.bin,
      inputs,
      context,
      env: { ...cacheEnv },
      secrets: Object.values(secrets),
      debug: values.debug,
      timeoutMs: 20 * 60 * 1000,
      onLog: (line) => console.log(line),
    });
  } finally {
    await cache.close();
    if (!values['keep-temp']) disposeContext(context);
  }

  const o = job.outputs;
  console.log(`\n== Result: ${job.conclusion}`);
  const tags = (o.tags ?? '').split('\n').filter(Boolean);
  if (o.digest) {
    console.log(`Pushed to the local registry ${REGISTRY}:`);
    for (const t of tags) console.log(`  ${t}@${o.digest}`);
    console.log(`Try it: docker run --rm ${tags[0]}`);
  } else if (job.conclusion === 'success' && job.main.inputs['dry-run'] === 'true') {
    console.log(`Dry run: nothing built. Tags it would have: ${tags.join(', ') || 'none'}`);
  } else if (job.conclusion === 'success') {
    console.log(`Built, not pushed. Tags: ${tags.join(', ') || 'none'}`);
  } else {
    for (const a of job.main.annotations.filter((x) => x.level === 'error')) console.log(`Error${a.file ? ` (${a.file}:${a.line})` : ''}: ${a.message}`);
  }
  if (o['cache-hit']) console.log(`Layer cache: ${o['cache-hit']}${o['cache-key'] ? ` (key ${o['cache-key']})` : ''}`);
  const summary = [job.main.summaryMasked, job.post?.summaryMasked ?? ''].filter(Boolean).join('\n');
  if (summary) console.log(`\n== Job summary (Markdown)\n${summary}`);
  return job.conclusion === 'success' ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`local-run: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
