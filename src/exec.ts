// The one way this action runs a program: every shell-out goes through here.
import * as actionsExec from '@actions/exec';

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
}

export function lastMeaningfulLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

export async function run(command: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const partial = { stdout: '', stderr: '' };
  const feed = (stream: 'stdout' | 'stderr', data: Buffer) => {
    if (!opts.onLine) return;
    const text = partial[stream] + data.toString('utf8');
    const lines = text.split(/\r?\n/);
    partial[stream] = lines.pop() ?? '';
    for (const l of lines) opts.onLine(l, stream);
  };
  const exitCode = await actionsExec.exec(command, args, {
    input: opts.input === undefined ? undefined : Buffer.from(opts.input),
    env: opts.env,
    cwd: opts.cwd,
    silent: opts.silent ?? false,
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
  if (opts.onLine) {
    if (partial.stdout) opts.onLine(partial.stdout, 'stdout');
    if (partial.stderr) opts.onLine(partial.stderr, 'stderr');
  }
  const result = { exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  if (exitCode !== 0 && !opts.ignoreReturnCode) throw new ExecError(`${command} ${args[0] ?? ''}`.trim(), result);
  return result;
}
