// The one way this action runs a program: every shell-out goes through here.
import * as path from 'node:path';
import { realCwd } from './workdir.js';
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import * as core from '@actions/core';
import * as actionsExec from '@actions/exec';
import { condensedBuildxProgress } from './buildlog.js';
import type { LogView } from './buildlog.js';

export interface ExecOptions {
  /** Bytes written to the child's stdin (used for passwords: never argv). */
  input?: Buffer | string;
  /** Full environment for the child; defaults to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Do not echo the command line and its output to the log. */
  silent?: boolean;
  /** Resolve even when the exit code is not 0. */
  ignoreReturnCode?: boolean;
  /** Called with each line of stdout and stderr as it arrives (for progress parsing). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Shows only the output lines this view lets through (the result still holds all of it); null
   *  shows everything. Default: condensed progress for `docker buildx build` unless debug is on. */
  view?: LogView | null;
  /** Give this child the environment variables withheld by `withholdEnv` (only `docker buildx
   *  build`, which reads the `secret-envs` values itself). */
  secretEnv?: boolean;
}

// Environment variables no child process gets: the ones `secret-envs` names (their values, kept
// here, go back only to a run with `secretEnv: true`) and every INPUT_* (the `secrets` and
// `password` inputs hold values). This is the one place child environments are made.
const withheld = new Map<string, string>();

/** Takes `names` out of this process's environment, so that no child, not even one a library
 *  starts, inherits them; runs with `secretEnv: true` get them back. Also drops the INPUT_*
 *  variables that hold secret values. */
export function withholdEnv(names: string[], env: NodeJS.ProcessEnv = process.env): void {
  for (const n of names) {
    const v = env[n];
    if (v === undefined) continue;
    withheld.set(n, v);
    delete env[n];
  }
  for (const n of ['INPUT_SECRETS', 'INPUT_PASSWORD', 'INPUT_REGISTRY-AUTH', 'INPUT_GITHUB-TOKEN']) delete env[n];
}

/** The environment a child gets: `base` without INPUT_* and the withheld variables; with
 *  `secretEnv`, the withheld variables added back. */
export function childEnv(base: NodeJS.ProcessEnv | Record<string, string>, secretEnv = false): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined || k.startsWith('INPUT_') || withheld.has(k)) continue;
    env[k] = v;
  }
  if (secretEnv) for (const [k, v] of withheld) env[k] = v;
  return env;
}

// Set once the step is being cancelled: from then on no program is started (a retry of the
// build, a push), so that what interrupt.ts stops stays stopped.
let refusal: string | undefined;

/** The step is being cancelled: `run` and `runStreaming` refuse to start anything from now on. */
export function refuseNewChildren(reason: string): void {
  refusal = reason;
}

export class CancelledError extends Error {}

function checkNotCancelled(command: string): void {
  if (refusal !== undefined) throw new CancelledError(`${command} not started: ${refusal}`);
}

export interface StreamedChild {
  stdin: Writable;
  stdout: Readable;
  /** Exit code and the tail of stderr; rejects when the program cannot be started. */
  done: Promise<{ exitCode: number; stderr: string }>;
}

/** Runs a program whose output is consumed as a stream (large data: never held whole in memory). */
export function runStreaming(command: string, args: string[], opts: { env?: Record<string, string> } = {}): StreamedChild {
  checkNotCancelled(command);
  const child = spawn(command, args, { env: childEnv(opts.env ?? process.env), stdio: ['pipe', 'pipe', 'pipe'], cwd: realCwd() });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4096);
  });
  const done = new Promise<{ exitCode: number; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), stderr }));
  });
  return { stdin: child.stdin, stdout: child.stdout, done };
}

/** The default log view for a command: `docker buildx build` progress is condensed unless debug is on. */
export function defaultView(command: string, args: string[], debug = core.isDebug()): LogView | undefined {
  if (debug || path.basename(command) !== 'docker' || args[0] !== 'buildx' || args[1] !== 'build') return undefined;
  return condensedBuildxProgress();
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const last = lastMeaningfulLine(result.stderr) || lastMeaningfulLine(result.stdout);
    super(`${command} failed with exit code ${result.exitCode}${last ? `: ${last}` : ''}`);
  }

  /** Everything the command printed: standard output, then standard error. */
  get output(): string {
    return `${this.result.stdout}\n${this.result.stderr}`;
  }
}

export function lastMeaningfulLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

export async function run(command: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  checkNotCancelled(command);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const partial = { stdout: '', stderr: '' };
  const view = opts.silent ? undefined : opts.view === undefined ? defaultView(command, args) : (opts.view ?? undefined);
  const show = (lines: string[]) => {
    for (const l of lines) process.stdout.write(`${l}\n`);
  };
  const onLine = (l: string, stream: 'stdout' | 'stderr') => {
    opts.onLine?.(l, stream);
    if (view) show(view.push(l));
  };
  const feed = (stream: 'stdout' | 'stderr', data: Buffer) => {
    if (!opts.onLine && !view) return;
    const text = partial[stream] + data.toString('utf8');
    const lines = text.split(/\r?\n/);
    partial[stream] = lines.pop() ?? '';
    for (const l of lines) onLine(l, stream);
  };
  if (view)
    core.info(`[command]${path.basename(command)} ${args.slice(0, 2).join(' ')} ... (condensed progress; the full command and progress at debug level)`);
  const exitCode = await actionsExec.exec(command, args, {
    input: opts.input === undefined ? undefined : Buffer.from(opts.input),
    env: childEnv(opts.env ?? process.env, opts.secretEnv),
    cwd: opts.cwd ?? realCwd(),
    silent: (opts.silent ?? false) || view !== undefined,
    ignoreReturnCode: true,
    listeners: {
      stdout: (d: Buffer) => {
        out.push(d);
        feed('stdout', d);
      },
      stderr: (d: Buffer) => {
        err.push(d);
        feed('stderr', d);
      },
    },
  });
  if (opts.onLine || view) {
    if (partial.stdout) onLine(partial.stdout, 'stdout');
    if (partial.stderr) onLine(partial.stderr, 'stderr');
  }
  if (view) show(view.end());
  const result = { exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  if (exitCode !== 0 && !opts.ignoreReturnCode) throw new ExecError(`${command} ${args[0] ?? ''}`.trim(), result);
  return result;
}
