// Running programs (src/exec.ts) with real children: output, exit codes and the error line, stdin,
// the child's environment and working directory, streamed output, the log view, and the refusal to
// start anything once the step is being cancelled.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jest } from '@jest/globals';
import { CancelledError, ExecError, defaultView, lastMeaningfulLine, refuseNewChildren, run, runStreaming } from '../../src/exec.js';
import type { LogView } from '../../src/buildlog.js';

const node = process.execPath;
/** Runs `code` in a fresh node, silently. */
const js = (code: string, opts: Parameters<typeof run>[2] = {}) => run(node, ['-e', code], { silent: true, ...opts });

/** What `fn` writes to this process's stdout (captured, so that a `[command]` line stays out of the log). */
async function stdoutOf(fn: () => Promise<unknown>): Promise<string> {
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => (out.push(String(chunk)), true)) as typeof process.stdout.write);
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('lastMeaningfulLine', () => {
  test.each([
    ['the last non-blank line, trimmed', 'one\n  two  \n\n\r\n', 'two'],
    ['CRLF lines', 'a\r\nb\r\n', 'b'],
    ['nothing', ' \n\n', ''],
  ])('%s', (_n, text, want) => expect(lastMeaningfulLine(text)).toBe(want));
});

describe('run', () => {
  test('collects stdout and stderr, and the exit code', async () => {
    const r = await js("process.stdout.write('out\\n'); process.stderr.write('err\\n')");
    expect(r).toEqual({ exitCode: 0, stdout: 'out\n', stderr: 'err\n' });
  });

  test('a failing program throws an ExecError naming the command, the code and the last line of stderr', async () => {
    const e = await js("console.error('first\\nthe reason\\n'); process.exit(3)").catch((err) => err);
    expect(e).toBeInstanceOf(ExecError);
    expect(e.message).toBe(`${node} -e failed with exit code 3: the reason`);
    expect(e.result).toMatchObject({ exitCode: 3, stderr: 'first\nthe reason\n\n' });
  });

  test('with nothing on stderr the error line quotes stdout; with neither, only the code', async () => {
    expect((await js("console.log('said on stdout'); process.exit(1)").catch((e) => e)).message).toMatch(/exit code 1: said on stdout$/);
    expect((await js('process.exit(2)').catch((e) => e)).message).toMatch(/failed with exit code 2$/);
  });

  test('ignoreReturnCode resolves with the code', async () => {
    expect((await js('process.exit(4)', { ignoreReturnCode: true })).exitCode).toBe(4);
  });

  test('input goes to the child on stdin (passwords never on argv)', async () => {
    const r = await js("let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => process.stdout.write(s.toUpperCase()))", {
      input: 'secret\nline',
    });
    expect(r.stdout).toBe('SECRET\nLINE');
  });

  test('the child gets the given environment without INPUT_* variables', async () => {
    const r = await js('process.stdout.write(JSON.stringify(process.env))', {
      env: { PATH: process.env.PATH ?? '', OBC_KEEP: 'yes', INPUT_PASSWORD: 'pw', 'INPUT_GITHUB-TOKEN': 'ghs_x' },
    });
    const env = JSON.parse(r.stdout);
    expect(env.OBC_KEEP).toBe('yes');
    expect(Object.keys(env).filter((k) => k.startsWith('INPUT_'))).toEqual([]);
  });

  test("the working directory: the step's own by default, or the one given", async () => {
    expect((await js('process.stdout.write(process.cwd())')).stdout).toBe(process.cwd());
    const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'obc-exec-')));
    try {
      expect((await js('process.stdout.write(process.cwd())', { cwd: dir })).stdout).toBe(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('onLine gets every line of both streams as it arrives, the unterminated last one too', async () => {
    const lines: [string, string][] = [];
    const r = await js("process.stdout.write('a\\nb\\r\\nlast'); process.stderr.write('e1\\n')", { onLine: (l, s) => lines.push([s, l]) });
    expect(lines.filter(([s]) => s === 'stdout')).toEqual([
      ['stdout', 'a'],
      ['stdout', 'b'],
      ['stdout', 'last'],
    ]);
    expect(lines.filter(([s]) => s === 'stderr')).toEqual([['stderr', 'e1']]);
    expect(r.stdout).toBe('a\nb\r\nlast');
  });

  test('a view decides what reaches the log, and what it says at the end is shown; the result keeps everything', async () => {
    const seen: string[] = [];
    const view: LogView = {
      push: (l) => (seen.push(l), l.startsWith('keep') ? [l] : []),
      end: () => ['(the end)'],
    };
    let r: Awaited<ReturnType<typeof run>> | undefined;
    const out = await stdoutOf(async () => {
      r = await run(node, ['-e', "console.log('keep 1'); console.log('drop'); console.log('keep 2')"], { view });
    });
    expect(seen).toEqual(['keep 1', 'drop', 'keep 2']);
    const [header, ...shown] = out.split('\n');
    expect(header).toMatch(/^\[command\]node -e .* \.\.\. \(condensed progress; the full command and progress at debug level\)$/);
    expect(shown).toEqual(['keep 1', 'keep 2', '(the end)', '']);
    expect(r!.stdout).toBe('keep 1\ndrop\nkeep 2\n');
  });

  test('view: null shows the output as it is, after the command line', async () => {
    const out = await stdoutOf(() => run(node, ['-e', "console.log('plain')"], { view: null }));
    expect(out).toContain('[command]');
    expect(out).toContain('plain');
  });
});

describe('defaultView', () => {
  test('only `docker buildx build` is condensed, and not with debug logging', () => {
    expect(defaultView('docker', ['buildx', 'build', '.'], false)).toBeDefined();
    expect(defaultView('/usr/bin/docker', ['buildx', 'build'], false)).toBeDefined();
    expect(defaultView('docker', ['buildx', 'build'], true)).toBeUndefined();
    expect(defaultView('docker', ['buildx', 'inspect'], false)).toBeUndefined();
    expect(defaultView('docker', ['build', '.'], false)).toBeUndefined();
    expect(defaultView('podman', ['buildx', 'build'], false)).toBeUndefined();
  });
});

describe('runStreaming', () => {
  test('stdout is a stream; done gives the exit code and the tail of stderr', async () => {
    const c = runStreaming(node, [
      '-e',
      "process.stdin.pipe(process.stdout); process.stdin.on('end', () => { process.stderr.write('x'.repeat(5000) + 'END'); process.exitCode = 5; })",
    ]);
    const chunks: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => chunks.push(d));
    c.stdin.end('streamed bytes');
    const { exitCode, stderr } = await c.done;
    expect(exitCode).toBe(5);
    expect(Buffer.concat(chunks).toString()).toBe('streamed bytes');
    expect(stderr).toHaveLength(4096);
    expect(stderr.endsWith('xEND')).toBe(true);
  });

  test('a program killed by a signal ends with 128', async () => {
    const c = runStreaming('sh', ['-c', 'kill -TERM $$']);
    c.stdin.end();
    expect((await c.done).exitCode).toBe(128);
  });

  test('a program that cannot be started rejects', async () => {
    const c = runStreaming('/nonexistent/obc-no-such-program', []);
    c.stdin.on('error', () => undefined);
    await expect(c.done).rejects.toThrow(/ENOENT/);
  });
});

// Last: the refusal cannot be taken back in this module instance.
describe('refuseNewChildren', () => {
  test('once the step is being cancelled, run and runStreaming start nothing and say why', async () => {
    refuseNewChildren('the step is being cancelled');
    await expect(js('1')).rejects.toThrow(new CancelledError(`${node} not started: the step is being cancelled`));
    expect(() => runStreaming('docker', ['push'])).toThrow(CancelledError);
    expect(() => runStreaming('docker', ['push'])).toThrow('docker not started: the step is being cancelled');
  });
});
