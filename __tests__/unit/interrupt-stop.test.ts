// Cancellation against real processes (src/interrupt.ts): stopDescendants ends what this process
// started, a child that ignores SIGTERM too; onStopSignal runs the clean-up once.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { onStopSignal, stopDescendants, type StopSignal } from '../../src/interrupt.js';

/** A shell that starts a grandchild sleep and prints its pid; with `trapTerm`, both ignore SIGTERM. */
function startTree(trapTerm: boolean): Promise<{ child: ChildProcess; grandchild: number }> {
  const script = `${trapTerm ? "trap '' TERM; " : ''}sleep 60 & echo $!; wait`;
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ child, grandchild: Number(String(d).trim()) }));
    child.once('error', reject);
  });
}

/** The process exists and is not a zombie (whether PID 1 reaps orphans depends on the machine). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};
/** Waits up to 2 s for `pid` to be gone. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}
const exited = (c: ChildProcess) =>
  new Promise<NodeJS.Signals | null>((resolve) =>
    c.exitCode !== null || c.signalCode !== null ? resolve(c.signalCode) : c.once('exit', (_code, sig) => resolve(sig)),
  );

describe('stopDescendants', () => {
  test('SIGTERM ends the children and grandchildren this process started', async () => {
    const { child, grandchild } = await startTree(false);
    const started = Date.now();
    await stopDescendants(5000);
    expect(await exited(child)).toBe('SIGTERM');
    expect(await gone(grandchild)).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test('what is left after the grace time gets SIGKILL', async () => {
    const { child, grandchild } = await startTree(true);
    const started = Date.now();
    await stopDescendants(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await exited(child)).toBe('SIGKILL');
    // The grandchild inherited the ignored SIGTERM; it is killed too, not left behind.
    expect(await gone(grandchild)).toBe(true);
  });

  test('with nothing started it returns at once', async () => {
    const started = Date.now();
    await stopDescendants(5000);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('onStopSignal', () => {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  afterEach(() => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(s)) if (!before[s].includes(l)) process.removeListener(s, l);
  });

  test('the first SIGINT or SIGTERM calls onStop with its name; a later one is ignored', () => {
    const calls: StopSignal[] = [];
    onStopSignal(async (s) => {
      calls.push(s);
    });
    process.emit('SIGTERM');
    process.emit('SIGINT');
    process.emit('SIGTERM');
    expect(calls).toEqual(['SIGTERM']);
  });

  test('SIGINT first (the runner sends SIGINT, then SIGTERM)', () => {
    const calls: StopSignal[] = [];
    onStopSignal(async (s) => {
      calls.push(s);
    });
    process.emit('SIGINT');
    process.emit('SIGTERM');
    expect(calls).toEqual(['SIGINT']);
  });
});
