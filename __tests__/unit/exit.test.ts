// The end of a step's process (src/exit.ts): it exits only when it is the script node was started
// with, and only after its output is flushed.
import { mkdtempSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { jest } from '@jest/globals';
import { exitWhenDone, isProcessEntry } from '../../src/exit.js';

describe('isProcessEntry', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'obc-exit-'));
  const entry = path.join(dir, 'index.js');
  const other = path.join(dir, 'other.js');
  writeFileSync(entry, '');
  writeFileSync(other, '');
  symlinkSync(entry, path.join(dir, 'link.js'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const url = pathToFileURL(entry).href;

  test('the module is the script node runs (`node dist/main/index.js`)', () => expect(isProcessEntry(url, entry)).toBe(true));
  test('a script named by a symlink to the module counts as the module', () => expect(isProcessEntry(url, path.join(dir, 'link.js'))).toBe(true));
  test('another program that imported the module (local-action) is not', () => expect(isProcessEntry(url, other)).toBe(false));
  test('no script, or one that does not exist, is not', () => {
    expect(isProcessEntry(url, undefined)).toBe(false);
    expect(isProcessEntry(url, '')).toBe(false);
    expect(isProcessEntry(url, path.join(dir, 'gone.js'))).toBe(false);
  });
  test('jest itself is not the module', () => expect(isProcessEntry(url)).toBe(false));
});

describe('exitWhenDone', () => {
  test('exits with the exit code set so far (no argument to process.exit), once stdout and stderr took their writes', async () => {
    const order: string[] = [];
    const exitArgs: unknown[][] = [];
    const exit = jest.spyOn(process, 'exit').mockImplementation(((...args: unknown[]) => {
      exitArgs.push(args);
      order.push('exit');
    }) as () => never);
    // core.debug writes a ::debug:: line when work is left behind: captured, not left for a runner.
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, cb?: unknown) => {
      order.push(String(chunk) === '' ? 'flush stdout' : 'write');
      if (typeof cb === 'function') cb();
      return true;
    }) as typeof process.stdout.write);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown, cb?: unknown) => {
      if (String(chunk) === '') order.push('flush stderr');
      if (typeof cb === 'function') cb();
      return true;
    }) as typeof process.stderr.write);
    const timer = setTimeout(() => undefined, 60_000); // work left behind
    try {
      await exitWhenDone();
    } finally {
      clearTimeout(timer);
      exit.mockRestore();
      out.mockRestore();
      err.mockRestore();
    }
    expect(exitArgs).toEqual([[]]);
    expect(order.filter((o) => o !== 'write')).toEqual(['flush stdout', 'flush stderr', 'exit']);
  });
});
