// Emulation of the GitHub Actions runner for a JavaScript action: runs the entry points named in
// action.yml (pre, main, post) as child processes, with the environment, file commands and stdout
// workflow commands handled the way the runner handles them. Used by the end-to-end tests and by
// the local-run command. Types: runner.d.mts beside this file.
//
// Fidelity notes (what the runner does, and so what this does):
// - INPUT_<NAME>: name with spaces -> '_', upper-cased (invariant culture), dashes kept; every input
//   declared in action.yml gets one (caller's value, else its default evaluated, else ''); inputs the
//   caller gives that action.yml does not declare are passed too, with an "Unexpected input(s)" warning.
// - Environment precedence, lowest first: this process's environment (as the runner's own, less the
//   variables the runner sets per step and those of the test process), GITHUB_ENV of earlier steps,
//   the caller's env (a step's `env:`), INPUT_*, PATH with GITHUB_PATH entries prepended (latest
//   first), the GITHUB_*/RUNNER_* context variables, STATE_* (post). So the context variables cannot
//   be overridden through env: set them through the context.
// - Workflow commands are recognised on stdout and stderr, command names case-insensitively, in the
//   `::cmd k=v,k2=v2::data` form and the legacy `##[cmd k=v;k2=v2]data` form; unknown names are plain
//   output. Masking applies from the line that registered a mask onwards, never retroactively (so a
//   secret printed before its add-mask stays in the log, as it would on GitHub).
// - File commands are read after the process ends (also when it failed). A malformed one fails the
//   step ("Unable to process file command ...") after the pairs before the error were applied.
// - The step summary is not masked by the runner until upload; `summary` is the raw file,
//   `summaryMasked` is what the runner would upload (masked line by line).
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load as loadYaml } from 'js-yaml';

const SUMMARY_LIMIT = 1024 * 1024;
const STREAM_GRACE_MS = 2000;
const KILL_GRACE_MS = 2000;
const NODE_RUNTIMES = new Set(['node12', 'node16', 'node20', 'node24']);
const REGISTERED_COMMANDS = new Set([
  'add-mask', 'add-path', 'add-matcher', 'remove-matcher', 'debug', 'warning', 'error', 'notice',
  'group', 'endgroup', 'echo', 'set-env', 'set-output', 'save-state', 'stop-commands',
]);
/** Commands whose own line is not echoed when `::echo::on` is set. */
const OMIT_ECHO = new Set(['add-mask', 'debug', 'warning', 'error', 'notice']);
const UNSECURE_DISABLED = (cmd) =>
  `The \`${cmd}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`.`;

// ---------------------------------------------------------------------------------------------
// Small pure helpers (exported for unit tests)

/** Variables the runner sets itself for each step, and those of the test process that runs this. */
const RUNNER_OWNED = /^(GITHUB_|RUNNER_|INPUT_|STATE_|ACTIONS_)/;
const HARNESS_OWNED = /^(NODE_OPTIONS|NODE_ICU_DATA|JEST_WORKER_ID|npm_.*|INIT_CWD)$/;

/**
 * The environment a step inherits from the runner process: all of it (DOCKER_HOST, DOCKER_CONFIG,
 * proxies and the like reach the action, as on a real runner), but for the variables the runner
 * sets per step itself and those that belong to the process driving this emulation.
 * @param {Record<string, string | undefined>} base
 * @returns {Record<string, string>}
 */
export function runnerProcessEnv(base) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !RUNNER_OWNED.test(k) && !HARNESS_OWNED.test(k)) env[k] = v;
  return env;
}

/**
 * Environment variable name the runner uses for an input: spaces -> '_', upper-cased, dashes kept.
 * @param {string} name
 * @returns {string}
 */
export function inputEnvName(name) {
  const upper = [...String(name).replace(/ /g, '_')]
    .map((c) => {
      const u = c.toUpperCase();
      return [...u].length === 1 ? u : c; // invariant upper-casing never changes length
    })
    .join('');
  return `INPUT_${upper}`;
}

/**
 * GITHUB_REF_NAME and GITHUB_REF_TYPE for a ref.
 * @param {string} ref
 * @returns {{ refName: string, refType: '' | 'branch' | 'tag' }}
 */
export function refInfo(ref) {
  if (!ref) return { refName: '', refType: '' };
  if (ref.startsWith('refs/heads/')) return { refName: ref.slice('refs/heads/'.length), refType: 'branch' };
  if (ref.startsWith('refs/tags/')) return { refName: ref.slice('refs/tags/'.length), refType: 'tag' };
  if (ref.startsWith('refs/pull/')) return { refName: ref.slice('refs/pull/'.length), refType: 'branch' };
  const m = /^refs\/[^/]+\/(.+)$/.exec(ref);
  return { refName: m ? m[1] : ref, refType: '' };
}

/** Splits text in lines the way the runner's file reader does on Linux: on LF only. */
function readLine(text, state) {
  if (state.index >= text.length) return { line: null, newline: null };
  const start = state.index;
  const lf = text.indexOf('\n', start);
  if (lf < 0) {
    state.index = text.length;
    return { line: text.slice(start), newline: null };
  }
  state.index = lf + 1;
  return { line: text.slice(start, lf), newline: '\n' };
}

/**
 * Parses a GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV file: `name=value` lines and
 * `name<<DELIMITER` heredocs, empty lines skipped. Pairs come in file order (later ones win when
 * put in an object). On a malformed entry, `error` says why and `pairs` holds those before it.
 * @param {string} text
 * @returns {{ pairs: Array<[string, string]>, error: string | null }}
 */
export function parseKeyValueFile(text) {
  const pairs = [];
  const st = { index: 0 };
  let { line } = readLine(text, st);
  while (line !== null) {
    if (line !== '') {
      const eq = line.indexOf('=');
      const hd = line.indexOf('<<');
      if (eq >= 0 && (hd < 0 || eq < hd)) {
        pairs.push([line.slice(0, eq), line.slice(eq + 1)]);
      } else if (hd >= 0 && (eq < 0 || hd < eq)) {
        const name = line.slice(0, hd);
        const delimiter = line.slice(hd + 2);
        if (!name || !delimiter) {
          return { pairs, error: `Invalid format '${line}'. Name must not be empty and delimiter must not be empty` };
        }
        const start = st.index;
        let end = st.index;
        let next = readLine(text, st);
        while (next.line !== delimiter) {
          if (next.line === null) return { pairs, error: `Invalid value. Matching delimiter not found '${delimiter}'` };
          if (next.newline === null) return { pairs, error: 'Invalid value. EOF marker missing new line.' };
          end = st.index - next.newline.length;
          next = readLine(text, st);
        }
        pairs.push([name, end > start ? text.slice(start, end) : '']);
      } else {
        return { pairs, error: `Invalid format '${line}'` };
      }
    }
    ({ line } = readLine(text, st));
  }
  return { pairs, error: null };
}

function replaceAllSeq(s, mappings) {
  let out = s;
  for (const [escaped, token] of mappings) out = out.split(escaped).join(token);
  return out;
}
const DATA_UNESCAPES = [['%0D', '\r'], ['%0A', '\n'], ['%25', '%']];
const PROPERTY_UNESCAPES = [['%0D', '\r'], ['%0A', '\n'], ['%3A', ':'], ['%2C', ','], ['%25', '%']];
const LEGACY_UNESCAPES = [['%3B', ';'], ['%0D', '\r'], ['%0A', '\n'], ['%5D', ']'], ['%25', '%']];

/**
 * Parses one output line as a workflow command, as the runner does (`::name k=v,k=v::data` after
 * leading whitespace, else the legacy `##[name k=v;k=v]data` anywhere in the line). Property keys
 * are returned lower-cased (the runner compares them case-insensitively).
 * @param {string} line
 * @param {Set<string>} [registered] command names (lower case) that count as commands
 * @returns {{ command: string, properties: Record<string, string>, data: string } | null}
 */
export function parseCommand(line, registered = REGISTERED_COMMANDS) {
  if (!line) return null;
  const isRegistered = (name) => registered.has(name.toLowerCase());
  // V2: ::command k=v,k=v::data
  const msg = line.replace(/^\s+/, '');
  if (msg.startsWith('::')) {
    const end = msg.indexOf('::', 2);
    if (end >= 0) {
      const info = msg.slice(2, end);
      const sp = info.indexOf(' ');
      const name = sp < 0 ? info : info.slice(0, sp);
      if (name && isRegistered(name)) {
        const properties = {};
        if (sp > 0) {
          for (const part of info.slice(sp + 1).trim().split(',')) {
            if (!part) continue;
            const [k, v] = splitPair(part);
            if (k !== undefined) properties[k.toLowerCase()] = replaceAllSeq(v, PROPERTY_UNESCAPES);
          }
        }
        return { command: name.toLowerCase(), properties, data: replaceAllSeq(msg.slice(end + 2), DATA_UNESCAPES) };
      }
    }
  }
  // Legacy: ##[command k=v;k=v]data
  const p = line.indexOf('##[');
  if (p >= 0) {
    const rb = line.indexOf(']', p);
    if (rb >= 0) {
      const info = line.slice(p + 3, rb);
      const sp = info.indexOf(' ');
      const name = sp < 0 ? info : info.slice(0, sp);
      if (name && isRegistered(name)) {
        const properties = {};
        if (sp > 0) {
          for (const part of info.slice(sp + 1).split(';')) {
            if (!part) continue;
            const [k, v] = splitPair(part);
            if (k !== undefined) properties[k.toLowerCase()] = replaceAllSeq(v, LEGACY_UNESCAPES);
          }
        }
        return { command: name.toLowerCase(), properties, data: replaceAllSeq(line.slice(rb + 1), LEGACY_UNESCAPES) };
      }
    }
  }
  return null;
}

/**
 * `k=v` split like .NET's Split('=', 2, RemoveEmptyEntries): empty pieces before the key are
 * dropped ("=a=b" -> a, b), the value keeps later '=' ("a==b" -> a, =b), and a pair without a
 * non-empty value is no pair.
 */
function splitPair(part) {
  let i = 0;
  while (part[i] === '=') i++;
  const eq = part.indexOf('=', i);
  if (eq < 0) return [undefined, undefined];
  const value = part.slice(eq + 1);
  if (value === '') return [undefined, undefined];
  return [part.slice(i, eq), value];
}

// ---------------------------------------------------------------------------------------------
// Secret masking

function uriDataEscape(s) {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** The part of base64(prefix of `shift` bytes + value) that does not depend on what surrounds value. */
function base64Fragment(value, shift) {
  const bytes = Buffer.from(value, 'utf8');
  const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
  return encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
}

/** Job-wide secret masker: replaces every registered value (and its encoded forms) by `***`. */
class Masker {
  constructor() {
    /** @type {string[]} */
    this.values = [];
  }
  /** @param {string} value */
  add(value) {
    const variants = new Set([value]);
    if (/[\r\n]/.test(value)) {
      for (const l of value.split(/\r\n|\r|\n/)) if (l.trim() !== '') variants.add(l);
    }
    for (const v of [...variants]) {
      variants.add(JSON.stringify(v).slice(1, -1));
      variants.add(uriDataEscape(v));
      for (let shift = 0; shift < 3; shift++) {
        const frag = base64Fragment(v, shift);
        if (frag.length >= 8) variants.add(frag);
      }
    }
    for (const v of variants) if (v && !this.values.includes(v)) this.values.push(v);
  }
  /** @param {string} text */
  mask(text) {
    if (!text || this.values.length === 0) return text;
    const ranges = [];
    for (const v of this.values) {
      let i = text.indexOf(v);
      while (i >= 0) {
        ranges.push([i, i + v.length]);
        i = text.indexOf(v, i + 1);
      }
    }
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([...r]);
    }
    let out = '';
    let pos = 0;
    for (const [s, e] of merged) {
      out += `${text.slice(pos, s)}***`;
      pos = e;
    }
    return out + text.slice(pos);
  }
}

// ---------------------------------------------------------------------------------------------
// Context

function runnerArch() {
  return { x64: 'X64', arm64: 'ARM64', arm: 'ARM', ia32: 'X86' }[process.arch] ?? process.arch.toUpperCase();
}

function defaultPayload(c) {
  const [owner, name] = c.repository.split('/');
  const repository = {
    id: Number(c.repositoryId),
    name,
    full_name: c.repository,
    owner: { login: owner, id: Number(c.repositoryOwnerId) },
    default_branch: 'main',
    html_url: `${c.serverUrl}/${c.repository}`,
  };
  const sender = { login: c.actor, id: Number(c.actorId) };
  switch (c.eventName) {
    case 'push':
      return {
        ref: c.ref,
        before: '0'.repeat(40),
        after: c.sha,
        created: false,
        deleted: false,
        head_commit: { id: c.sha, message: 'local commit' },
        pusher: { name: c.actor },
        repository,
        sender,
      };
    case 'pull_request':
    case 'pull_request_target': {
      const m = /^refs\/pull\/(\d+)\//.exec(c.ref);
      const number = m ? Number(m[1]) : 1;
      return {
        action: 'synchronize',
        number,
        pull_request: {
          number,
          head: { ref: c.headRef || 'feature', sha: c.sha, repo: repository },
          base: { ref: c.baseRef || 'main', sha: '0'.repeat(40), repo: repository },
        },
        repository,
        sender,
      };
    }
    case 'workflow_dispatch':
      return { inputs: {}, ref: c.ref, repository, sender };
    default:
      return { repository, sender };
  }
}

function apiUrlsFor(serverUrl) {
  const s = serverUrl.replace(/\/+$/, '');
  if (/^https?:\/\/github\.com$/i.test(s)) return { apiUrl: 'https://api.github.com', graphqlUrl: 'https://api.github.com/graphql' };
  return { apiUrl: `${s}/api/v3`, graphqlUrl: `${s}/api/graphql` };
}

/**
 * A complete run context from a partial one: every field the emulation uses gets a sensible value.
 * Directories not given (workspace, runner temp, tool cache) are created under one temporary root,
 * `root`, which disposeContext() removes. Idempotent: contextFor(contextFor(x)) keeps the same dirs.
 * @param {Record<string, any>} [partial]
 */
export function contextFor(partial = {}) {
  const c = { ...partial };
  c.eventName = c.eventName ?? c.event ?? 'push';
  delete c.event;
  c.ref = c.ref ?? 'refs/heads/main';
  c.repository = c.repository ?? 'local/action-test';
  c.sha = c.sha ?? createHash('sha1').update(`${c.repository}@${c.ref}`).digest('hex');
  c.repositoryOwner = c.repositoryOwner ?? c.repository.split('/')[0];
  c.repositoryId = String(c.repositoryId ?? 100000001);
  c.repositoryOwnerId = String(c.repositoryOwnerId ?? 100000002);
  const info = refInfo(c.ref);
  c.refName = c.refName ?? info.refName;
  c.refType = c.refType ?? info.refType;
  c.refProtected = c.refProtected ?? false;
  c.runId = String(c.runId ?? 1000000000 + Math.floor(Math.random() * 8999999999));
  c.runNumber = String(c.runNumber ?? 1);
  c.runAttempt = String(c.runAttempt ?? 1);
  c.job = c.job ?? 'build';
  c.actor = c.actor ?? 'octocat';
  c.actorId = String(c.actorId ?? 583231);
  c.triggeringActor = c.triggeringActor ?? c.actor;
  c.workflow = c.workflow ?? 'CI';
  c.workflowRef = c.workflowRef ?? `${c.repository}/.github/workflows/ci.yml@${c.ref}`;
  c.workflowSha = c.workflowSha ?? c.sha;
  c.serverUrl = (c.serverUrl ?? 'https://github.com').replace(/\/+$/, '');
  const urls = apiUrlsFor(c.serverUrl);
  c.apiUrl = c.apiUrl ?? urls.apiUrl;
  c.graphqlUrl = c.graphqlUrl ?? urls.graphqlUrl;
  c.retentionDays = String(c.retentionDays ?? 90);
  c.action = c.action ?? '__self';
  c.actionRepository = c.actionRepository ?? '';
  c.actionRef = c.actionRef ?? '';
  c.token = c.token ?? `ghs_${randomBytes(18).toString('hex')}`;
  c.runnerName = c.runnerName ?? 'GitHub Actions 1';
  c.runnerArch = c.runnerArch ?? runnerArch();
  c.runnerEnvironment = c.runnerEnvironment ?? 'github-hosted';
  if (!c.workspace || !c.runnerTemp || !c.toolCache) {
    if (!c.root) c.root = mkdtempSync(path.join(os.tmpdir(), 'gha-emu-'));
    const repoName = c.repository.split('/')[1] || 'repo';
    c.workspace = c.workspace ?? path.join(c.root, 'work', repoName, repoName);
    c.runnerTemp = c.runnerTemp ?? path.join(c.root, 'temp');
    c.toolCache = c.toolCache ?? path.join(c.root, 'tool-cache');
  }
  for (const d of [c.workspace, c.runnerTemp, c.toolCache]) mkdirSync(d, { recursive: true });
  const isPr = c.eventName === 'pull_request' || c.eventName === 'pull_request_target';
  if (!c.payload) c.payload = defaultPayload(c);
  c.headRef = c.headRef ?? (isPr ? c.payload?.pull_request?.head?.ref ?? '' : '');
  c.baseRef = c.baseRef ?? (isPr ? c.payload?.pull_request?.base?.ref ?? '' : '');
  return c;
}

/**
 * Removes the temporary root that contextFor() created (caller-given directories are kept).
 * @param {{ root?: string }} context
 */
export function disposeContext(context) {
  if (context?.root) rmSync(context.root, { recursive: true, force: true });
}

function githubScope(c, actionDir) {
  return {
    action: c.action,
    action_path: actionDir,
    action_ref: c.actionRef,
    action_repository: c.actionRepository,
    actor: c.actor,
    actor_id: c.actorId,
    api_url: c.apiUrl,
    base_ref: c.baseRef,
    event: c.payload,
    event_name: c.eventName,
    event_path: path.join(c.runnerTemp, '_github_workflow', 'event.json'),
    graphql_url: c.graphqlUrl,
    head_ref: c.headRef,
    job: c.job,
    ref: c.ref,
    ref_name: c.refName,
    ref_protected: c.refProtected,
    ref_type: c.refType,
    repository: c.repository,
    repository_id: c.repositoryId,
    repository_owner: c.repositoryOwner,
    repository_owner_id: c.repositoryOwnerId,
    retention_days: c.retentionDays,
    run_attempt: c.runAttempt,
    run_id: c.runId,
    run_number: c.runNumber,
    server_url: c.serverUrl,
    sha: c.sha,
    token: c.token,
    triggering_actor: c.triggeringActor,
    workflow: c.workflow,
    workflow_ref: c.workflowRef,
    workflow_sha: c.workflowSha,
    workspace: c.workspace,
  };
}

function runnerScope(c, debug) {
  return {
    name: c.runnerName,
    os: 'Linux',
    arch: c.runnerArch,
    temp: c.runnerTemp,
    tool_cache: c.toolCache,
    environment: c.runnerEnvironment,
    debug: debug ? '1' : '',
  };
}

// ---------------------------------------------------------------------------------------------
// Expressions in input defaults: `${{ github.x }}`, `${{ runner.temp }}`, literals and `||`.

function lookupCI(obj, key) {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}

function evalOperand(src, scope) {
  const s = src.trim();
  if (/^'(?:[^']|'')*'$/.test(s)) return s.slice(1, -1).replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^true$/i.test(s)) return true;
  if (/^false$/i.test(s)) return false;
  if (/^null$/i.test(s)) return null;
  if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_*][\w-]*|\['[^']*'\])*$/.test(s)) return undefined;
  const parts = [...s.matchAll(/[A-Za-z_][\w-]*|\['([^']*)'\]/g)].map((m) => m[1] ?? m[0]);
  let v = lookupCI(scope, parts[0]);
  for (const p of parts.slice(1)) v = lookupCI(v, p);
  return v;
}

function splitTopLevel(expr, op) {
  const out = [];
  let cur = '';
  let inStr = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === "'") inStr = !inStr;
    if (!inStr && expr.startsWith(op, i)) {
      out.push(cur);
      cur = '';
      i += op.length - 1;
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function truthy(v) {
  return !(v === undefined || v === null || v === false || v === '' || v === 0 || Number.isNaN(v));
}

function exprToString(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return JSON.stringify(v, null, 2);
}

/**
 * Evaluates the `${{ ... }}` parts of a default value. Supported: `github.*` (incl. github.token and
 * github.event.*), `runner.*`, string/number/boolean literals and `a || b`; anything else is ''.
 * @param {unknown} template
 * @param {{ github: Record<string, unknown>, runner: Record<string, unknown> }} scope
 */
export function evaluateTemplate(template, scope) {
  if (template === undefined || template === null) return '';
  if (typeof template !== 'string') return exprToString(template);
  return template.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr) => {
    const operands = splitTopLevel(expr, '||');
    let v;
    for (const o of operands) {
      v = evalOperand(o, scope);
      if (truthy(v)) break;
    }
    return exprToString(v);
  });
}

// ---------------------------------------------------------------------------------------------
// action.yml

/**
 * Reads and checks action.yml (or action.yaml) of a JavaScript action.
 * @param {string} actionDir
 */
export function loadAction(actionDir) {
  const file = ['action.yml', 'action.yaml'].map((f) => path.join(actionDir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`No action.yml or action.yaml in ${actionDir}`);
  const manifest = /** @type {any} */ (loadYaml(readFileSync(file, 'utf8')));
  if (!manifest || typeof manifest !== 'object') throw new Error(`${file}: not a mapping`);
  const runs = manifest.runs;
  if (!runs || typeof runs !== 'object') throw new Error(`${file}: no 'runs' section`);
  if (!NODE_RUNTIMES.has(String(runs.using).toLowerCase())) {
    throw new Error(`${file}: runs.using '${runs.using}' is not a JavaScript action runtime (${[...NODE_RUNTIMES].join(', ')})`);
  }
  if (!runs.main) throw new Error(`${file}: runs.main is required`);
  return { ...manifest, inputs: manifest.inputs ?? {}, runs, file };
}

/**
 * Evaluates pre-if / post-if the way the runner's status functions do for a single action.
 * Supported: always(), success(), failure(), cancelled(), !cancelled(); anything else counts as
 * success() (the runner wraps a condition without a status function in success() && (...)).
 * @param {string | undefined} condition
 * @param {boolean} failed whether an earlier step of the job failed
 */
export function evaluateCondition(condition, failed) {
  const c = String(condition ?? 'always()').replace(/^\$\{\{([\s\S]*)\}\}$/, '$1').trim().toLowerCase();
  switch (c) {
    case 'always()':
    case '!cancelled()':
    case '!cancelled() && true':
      return true;
    case 'success()':
    case '!failure()':
      return !failed;
    case 'failure()':
      return failed;
    case 'cancelled()':
      return false;
    default:
      return !failed;
  }
}

// ---------------------------------------------------------------------------------------------
// Running one entry point

/**
 * Runs one entry point ('pre' | 'main' | 'post') of the action as the runner would.
 * @param {import('./runner.d.mts').StepOptions} options
 * @returns {Promise<import('./runner.d.mts').StepResult>}
 */
export async function runStep(options) {
  const context = contextFor(options.context ?? {});
  const masker = new Masker();
  if (context.token) masker.add(context.token);
  for (const s of options.secrets ?? []) if (s) masker.add(s);
  const result = await runStepWith({ ...options, context }, masker);
  if (options.killOrphans !== false) killGroup(result.pid);
  return result;
}

function killGroup(pid, signal = 'SIGKILL') {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/**
 * @param {any} options
 * @param {Masker} masker
 */
async function runStepWith(options, masker) {
  const { actionDir, entry = 'main', debug = false, timeoutMs, onLog } = options;
  const context = options.context;
  const manifest = loadAction(actionDir);
  const target = manifest.runs[entry];
  if (!target) throw new Error(`${manifest.file}: runs.${entry} is not set`);
  const script = path.resolve(actionDir, target);
  if (!existsSync(script)) throw new Error(`${manifest.file}: runs.${entry} '${target}' does not exist (${script})`);

  // ---- state kept while the step runs
  const log = [];
  const rawOut = [];
  const rawErr = [];
  const annotations = [];
  const groups = [];
  /** When each group started and ended, in ms since the process was spawned. */
  const timeline = [];
  /** When each log line was emitted, in ms since the process was spawned (parallel to log). */
  const logMs = [];
  /** performance.now() when the entry's process was spawned (0 before). */
  let started = 0;
  const outputs = {};
  const stateOut = {};
  const envFile = {};
  const paths = [];
  let masksAdded = 0;
  let commandFailed = false;
  let echo = Boolean(debug);
  let stopToken = null;
  const registered = new Set(REGISTERED_COMMANDS);

  // Cancellation as the runner does it: a signal to the entry process, here when a line shows up.
  const interrupt = options.interrupt && (options.interrupt.entry ?? 'main') === entry ? options.interrupt : undefined;
  let interruptedAt = null;
  /** @type {import('node:child_process').ChildProcess | null} */
  let running = null;
  const emit = (text) => {
    const masked = masker.mask(text);
    log.push(masked);
    logMs.push(Math.round(performance.now() - started));
    if (onLog) onLog(masked);
    if (running && interrupt && interruptedAt === null && interrupt.when(masked)) {
      interruptedAt = Date.now();
      running.kill(interrupt.signal ?? 'SIGTERM');
    }
  };
  const debugLine = (text) => {
    if (debug) emit(`[debug] ${text}`);
  };
  const LEVEL_LABEL = { error: 'Error', warning: 'Warning', notice: 'Notice' };
  const addIssue = (level, message, props = {}) => {
    const a = { level, message: masker.mask(message) };
    for (const k of ['title', 'file']) if (props[k] !== undefined && props[k] !== '') a[k] = masker.mask(props[k]);
    for (const [k, key] of [['line', 'line'], ['endline', 'endLine'], ['col', 'col'], ['endcolumn', 'endColumn']]) {
      if (props[k] !== undefined && /^\s*-?\d+\s*$/.test(props[k])) a[key] = Number(props[k]);
    }
    if (a.file && path.isAbsolute(a.file)) {
      const rel = path.relative(context.workspace, a.file);
      if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) a.file = rel.split(path.sep).join('/');
    }
    annotations.push(a);
    emit(`${LEVEL_LABEL[level]}: ${message}`);
  };
  const fail = (message) => {
    addIssue('error', message);
    commandFailed = true;
  };

  // ---- inputs
  const scope = { github: githubScope(context, path.resolve(actionDir)), runner: runnerScope(context, debug) };
  const declared = Object.keys(manifest.inputs);
  const given = new Map();
  for (const [k, v] of Object.entries(options.inputs ?? {})) {
    if (v === undefined || v === null) continue;
    given.set(k, typeof v === 'string' ? v : String(v));
  }
  const inputEnv = {};
  const resolvedInputs = {};
  for (const [k, v] of given) {
    inputEnv[inputEnvName(k)] = v;
    resolvedInputs[k] = v;
  }
  for (const name of declared) {
    const isGiven = [...given.keys()].some((k) => k.toLowerCase() === name.toLowerCase());
    if (isGiven) continue;
    const def = manifest.inputs[name]?.default;
    const value = evaluateTemplate(def, scope);
    inputEnv[inputEnvName(name)] = value;
    resolvedInputs[name] = value;
  }
  if (entry === 'main') {
    const unexpected = [...given.keys()].filter((k) => !declared.some((d) => d.toLowerCase() === k.toLowerCase()));
    if (unexpected.length > 0) {
      addIssue('warning', `Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${declared.join("', '")}']`);
    }
    for (const [k] of given) {
      const d = declared.find((x) => x.toLowerCase() === k.toLowerCase());
      const msg = d ? manifest.inputs[d]?.deprecationMessage : undefined;
      if (msg) addIssue('warning', `Input '${d}' has been deprecated with message: ${msg}`);
    }
  }

  // ---- files
  const fileDir = path.join(context.runnerTemp, '_runner_file_commands');
  mkdirSync(fileDir, { recursive: true });
  const suffix = randomUUID();
  const files = {
    GITHUB_OUTPUT: path.join(fileDir, `set_output_${suffix}`),
    GITHUB_STATE: path.join(fileDir, `save_state_${suffix}`),
    GITHUB_ENV: path.join(fileDir, `set_env_${suffix}`),
    GITHUB_PATH: path.join(fileDir, `add_path_${suffix}`),
    GITHUB_STEP_SUMMARY: path.join(fileDir, `step_summary_${suffix}`),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const eventPath = scope.github.event_path;
  mkdirSync(path.dirname(eventPath), { recursive: true });
  writeFileSync(eventPath, JSON.stringify(context.payload ?? {}, null, 2));
  mkdirSync(context.workspace, { recursive: true });

  // ---- environment
  const env = runnerProcessEnv(options.baseEnv ?? process.env);
  Object.assign(env, options.jobEnv ?? {});
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined && v !== null) env[k] = String(v);
  Object.assign(env, inputEnv);
  const prepend = [...(options.prependPath ?? [])].reverse();
  if (prepend.length > 0) env.PATH = [...prepend, ...(env.PATH ? [env.PATH] : [])].join(path.delimiter);
  const g = scope.github;
  Object.assign(env, {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION: g.action,
    GITHUB_ACTION_PATH: g.action_path,
    GITHUB_ACTION_REF: g.action_ref,
    GITHUB_ACTION_REPOSITORY: g.action_repository,
    GITHUB_ACTOR: g.actor,
    GITHUB_ACTOR_ID: g.actor_id,
    GITHUB_API_URL: g.api_url,
    GITHUB_BASE_REF: g.base_ref,
    GITHUB_EVENT_NAME: g.event_name,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_GRAPHQL_URL: g.graphql_url,
    GITHUB_HEAD_REF: g.head_ref,
    GITHUB_JOB: g.job,
    GITHUB_REF: g.ref,
    GITHUB_REF_NAME: g.ref_name,
    GITHUB_REF_PROTECTED: String(g.ref_protected),
    GITHUB_REF_TYPE: g.ref_type,
    GITHUB_REPOSITORY: g.repository,
    GITHUB_REPOSITORY_ID: g.repository_id,
    GITHUB_REPOSITORY_OWNER: g.repository_owner,
    GITHUB_REPOSITORY_OWNER_ID: g.repository_owner_id,
    GITHUB_RETENTION_DAYS: g.retention_days,
    GITHUB_RUN_ATTEMPT: g.run_attempt,
    GITHUB_RUN_ID: g.run_id,
    GITHUB_RUN_NUMBER: g.run_number,
    GITHUB_SERVER_URL: g.server_url,
    GITHUB_SHA: g.sha,
    GITHUB_TRIGGERING_ACTOR: g.triggering_actor,
    GITHUB_WORKFLOW: g.workflow,
    GITHUB_WORKFLOW_REF: g.workflow_ref,
    GITHUB_WORKFLOW_SHA: g.workflow_sha,
    GITHUB_WORKSPACE: g.workspace,
    ...files,
    RUNNER_ARCH: scope.runner.arch,
    RUNNER_ENVIRONMENT: scope.runner.environment,
    RUNNER_NAME: scope.runner.name,
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: scope.runner.temp,
    RUNNER_TOOL_CACHE: scope.runner.tool_cache,
    RUNNER_WORKSPACE: path.dirname(context.workspace),
  });
  if (debug) env.RUNNER_DEBUG = '1';
  else delete env.RUNNER_DEBUG;
  const runtime = {
    ACTIONS_RUNTIME_URL: context.runtimeUrl,
    ACTIONS_RUNTIME_TOKEN: context.runtimeToken,
    ACTIONS_CACHE_URL: context.cacheUrl,
    ACTIONS_RESULTS_URL: context.resultsUrl,
  };
  for (const [k, v] of Object.entries(runtime)) if (v) env[k] = String(v);
  for (const [k, v] of Object.entries(options.state ?? {})) env[`STATE_${k}`] = String(v);
  delete env.NODE_ICU_DATA;

  // ---- workflow commands
  const unsecureAllowed = () => /^true$/i.test(String(env.ACTIONS_ALLOW_UNSECURE_COMMANDS ?? '').trim());
  const runCommand = (cmd, line) => {
    const d = cmd.data;
    switch (cmd.command) {
      case 'add-mask':
        if (d.trim() === '') {
          addIssue('warning', "Can't add secret mask for empty string in ##[add-mask] command.");
        } else {
          masker.add(d);
          masksAdded += 1;
          if (echo) emit('::add-mask::***');
        }
        return;
      case 'debug':
        debugLine(d);
        return;
      case 'error':
      case 'warning':
      case 'notice':
        addIssue(cmd.command, d, cmd.properties);
        return;
      case 'group':
        groups.push(d);
        timeline.push({ name: d, startMs: sinceStart(), endMs: null });
        emit(`[group] ${d}`);
        return;
      case 'endgroup': {
        const open = timeline.findLast((g) => g.endMs === null);
        if (open) open.endMs = sinceStart();
        emit('[endgroup]');
        return;
      }
      case 'echo': {
        const v = d.trim().toUpperCase();
        if (v === 'ON') echo = true;
        else if (v === 'OFF') echo = false;
        else throw new Error(`Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${d}'.`);
        debugLine(`Setting echo command value to '${v.toLowerCase()}'`);
        return;
      }
      case 'set-output':
      case 'save-state': {
        const name = cmd.properties.name;
        if (!name) throw new Error(`Required field 'name' is missing in ##[${cmd.command}] command.`);
        (cmd.command === 'set-output' ? outputs : stateOut)[name] = d;
        return;
      }
      case 'set-env': {
        if (!unsecureAllowed()) throw new Error(UNSECURE_DISABLED('set-env'));
        const name = cmd.properties.name;
        if (!name) throw new Error("Required field 'name' is missing in ##[set-env] command.");
        if (name.toUpperCase() === 'NODE_OPTIONS') addIssue('error', "Can't update NODE_OPTIONS environment variable using ::set-env:: command.");
        else envFile[name] = d;
        return;
      }
      case 'add-path':
        if (!unsecureAllowed()) throw new Error(UNSECURE_DISABLED('add-path'));
        if (!d) throw new Error("Parameter 'path' cannot be null or empty.");
        paths.push(d);
        return;
      case 'add-matcher':
      case 'remove-matcher':
        debugLine(`Problem matchers are not emulated; ignoring '${line}'.`);
        return;
      default:
        addIssue('warning', `Can't find command extension for ##[${cmd.command}.command].`);
    }
  };

  let lastLineAt = 0;
  let firstLineAt = 0;
  const sinceStart = () => Math.round(performance.now() - started);
  const onLine = (line, stream) => {
    lastLineAt = performance.now();
    if (!firstLineAt) firstLineAt = lastLineAt;
    let rawLine = line;
    let cmd = null;
    if (line && (line.includes('##[') || line.includes('::'))) cmd = parseCommand(line, registered);
    if (cmd && stopToken !== null) {
      if (cmd.command === stopToken.toLowerCase()) {
        emit(line);
        registered.delete(stopToken.toLowerCase());
        stopToken = null;
        debugLine('Resume processing commands');
      } else {
        emit(line); // commands are not processed while stopped
      }
    } else if (cmd && cmd.command === 'stop-commands') {
      emit(line);
      stopToken = cmd.data;
      if (stopToken) registered.add(stopToken.toLowerCase());
      debugLine(`Paused processing commands until '::${cmd.data}::' is received`);
    } else if (cmd) {
      if (echo && !OMIT_ECHO.has(cmd.command)) emit(line);
      try {
        runCommand(cmd, line);
      } catch (err) {
        fail(`Unable to process command '${OMIT_ECHO.has(cmd.command) ? cmd.command : line}' successfully.`);
        fail(/** @type {Error} */ (err).message);
      }
      if (cmd.command === 'add-mask') rawLine = line.replace(/::add-mask::[\s\S]*$/i, '::add-mask::***').replace(/##\[add-mask\][\s\S]*$/i, '##[add-mask]***');
    } else {
      emit(line);
    }
    (stream === 'stdout' ? rawOut : rawErr).push(masker.mask(rawLine));
  };

  // ---- process
  const node = options.node ?? process.execPath;
  const child = spawn(node, [script], {
    cwd: context.workspace,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a timeout can end the whole tree
  });
  const pid = child.pid;
  running = child;
  started = performance.now();
  let timedOut = false;
  let timer;
  let killTimer;
  const exited = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (timeoutMs && timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
  }
  const streamDone = [
    lineReader(child.stdout, (l) => onLine(l, 'stdout')),
    lineReader(child.stderr, (l) => onLine(l, 'stderr')),
  ];
  let exit;
  try {
    exit = await exited;
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
  }
  const exitedAt = Date.now();
  const durationMs = Math.round(performance.now() - started);
  if (options.killOrphans !== false && !timedOut) killGroup(pid);
  if (timedOut) killGroup(pid);
  // Output still held open by a leftover grandchild must not hang the step.
  let graceTimer;
  await Promise.race([
    Promise.all(streamDone),
    new Promise((resolve) => {
      graceTimer = setTimeout(resolve, STREAM_GRACE_MS);
    }),
  ]);
  clearTimeout(graceTimer);
  for (const s of [child.stdout, child.stderr]) s?.destroy();

  const exitCode = exit.code;
  debugLine(`Node Action run completed with exit code ${exitCode ?? exit.signal}`);
  if (timedOut) addIssue('error', `The action has timed out after ${timeoutMs} ms.`);

  // ---- file commands
  const readText = (f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const keyValues = (f, contextName, apply) => {
    const { pairs, error } = parseKeyValueFile(readText(f));
    for (const [k, v] of pairs) apply(k, v);
    if (error) {
      fail(`Unable to process file command '${contextName}' successfully.`);
      fail(error);
    }
  };
  // GITHUB_PATH is line based: every non-empty line is a directory.
  for (const line of readText(files.GITHUB_PATH).split(/\r\n|\n|\r/)) if (line !== '') paths.push(line);
  keyValues(files.GITHUB_ENV, 'env', (k, v) => {
    if (k.toUpperCase() === 'NODE_OPTIONS') addIssue('error', "Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command.");
    else envFile[k] = v;
  });
  keyValues(files.GITHUB_OUTPUT, 'output', (k, v) => {
    outputs[k] = v;
  });
  keyValues(files.GITHUB_STATE, 'state', (k, v) => {
    stateOut[k] = v;
  });
  const summary = readText(files.GITHUB_STEP_SUMMARY);
  let summaryMasked = '';
  if (summary) {
    const size = statSync(files.GITHUB_STEP_SUMMARY).size;
    if (size > SUMMARY_LIMIT) {
      addIssue('error', `$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of ${SUMMARY_LIMIT / 1024}k, got ${Math.floor(size / 1024)}k.`);
    } else {
      const lines = summary.split(/\r\n|\n|\r/);
      if (lines[lines.length - 1] === '') lines.pop();
      summaryMasked = lines.map((l) => `${masker.mask(l)}\n`).join('');
    }
  }

  const failed = timedOut || exitCode !== 0 || commandFailed;
  return {
    entry,
    exitCode,
    signal: exit.signal,
    timedOut,
    durationMs,
    lastOutputMs: lastLineAt ? Math.max(0, Math.round(lastLineAt - started)) : 0,
    firstOutputMs: firstLineAt ? Math.max(0, Math.round(firstLineAt - started)) : 0,
    timeline,
    logMs,
    conclusion: failed ? 'failure' : 'success',
    log: log.join('\n'),
    rawStdout: joinRaw(rawOut),
    stderr: joinRaw(rawErr),
    outputs,
    state: stateOut,
    envFile,
    paths,
    summary,
    summaryMasked,
    annotations,
    groups,
    masks: masksAdded,
    inputs: resolvedInputs,
    context,
    pid,
    interruptedMs: interruptedAt === null ? null : exitedAt - interruptedAt,
  };
}

function joinRaw(lines) {
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Calls onLine for each line of a stream; lines end at \n, \r\n or a lone \r (as the runner's
 * line reader does). Resolves when the stream has ended.
 */
function lineReader(stream, onLine) {
  return new Promise((resolve) => {
    let buf = '';
    const drain = (final) => {
      const re = /\r\n|\r|\n/g;
      let last = 0;
      let m;
      while ((m = re.exec(buf)) !== null) {
        if (m[0] === '\r' && m.index === buf.length - 1 && !final) break; // maybe half of \r\n
        onLine(buf.slice(last, m.index));
        last = m.index + m[0].length;
      }
      buf = buf.slice(last);
      if (final && buf !== '') {
        onLine(buf);
        buf = '';
      }
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      drain(false);
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      drain(true);
      resolve(undefined);
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

// ---------------------------------------------------------------------------------------------
// Whole job: pre (if any), main, post (if any, by its post-if)

/**
 * Runs the action's entry points as one job would: pre (if declared and pre-if holds), main, then
 * post (if declared; post-if defaults to always()). State saved by pre/main reaches later entries
 * as STATE_*; GITHUB_ENV / GITHUB_PATH written by an entry apply to the later ones; masks are
 * job-wide. Leftover processes of all entries are ended when the job ends.
 * @param {import('./runner.d.mts').JobOptions} options
 * @returns {Promise<import('./runner.d.mts').JobResult>}
 */
export async function runJob(options) {
  const { actionDir } = options;
  const manifest = loadAction(actionDir);
  const context = contextFor(options.context ?? {});
  const masker = new Masker();
  if (context.token) masker.add(context.token);
  for (const s of options.secrets ?? []) if (s) masker.add(s);

  const jobEnv = {};
  const prependPath = [];
  const state = {};
  const pids = [];
  let failed = false;
  const run = async (entry) => {
    const r = await runStepWith(
      {
        ...options,
        context,
        entry,
        state: { ...state },
        jobEnv: { ...jobEnv },
        prependPath: [...prependPath],
        killOrphans: false,
      },
      masker,
    );
    pids.push(r.pid);
    if (options.afterEntry) await options.afterEntry(r);
    Object.assign(jobEnv, r.envFile);
    for (const p of r.paths) {
      const i = prependPath.indexOf(p);
      if (i >= 0) prependPath.splice(i, 1);
      prependPath.push(p);
    }
    if (entry !== 'post') Object.assign(state, r.state);
    if (r.conclusion === 'failure') failed = true;
    return r;
  };

  try {
    let pre = null;
    const preCondition = manifest.runs['pre-if'] ?? 'always()';
    if (manifest.runs.pre && evaluateCondition(preCondition, false)) pre = await run('pre');
    const main = await run('main');
    const mainFailed = main.conclusion === 'failure';
    const postCondition = String(manifest.runs['post-if'] ?? 'always()');
    let post = null;
    // A test may hold the post step back, e.g. to start two jobs' posts at the same moment.
    if (manifest.runs.post && evaluateCondition(postCondition, failed)) post = await run('post');
    const log = [pre, main, post]
      .filter((r) => r !== null)
      .map((r) => r.log)
      .filter((l) => l !== '')
      .join('\n');
    return {
      pre,
      main,
      post,
      outputs: main.outputs,
      log,
      mainFailed,
      postCondition,
      postRan: post !== null,
      conclusion: failed ? 'failure' : 'success',
      context,
    };
  } finally {
    for (const pid of pids) killGroup(pid);
  }
}
