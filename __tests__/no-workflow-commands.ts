// Jest setup for every test file: no test may write a workflow command (`::add-mask::…`,
// `::error::…`, `::set-output …`) to the real stdout or stderr, where a runner running the suite
// would act on it (mask a value in the rest of the log, annotate the run, ...). Such a line is always
// held back. The test that wrote it fails, naming it, when the write came from the test file's own
// call stack; a write from work an earlier test file left behind (a library's retry timer firing
// later in the same worker) cannot be told apart from the current test's, so it is only held back
// and noted on stderr. A test that calls code which writes commands captures them itself, e.g. with
// jest.spyOn(process.stdout, 'write').
import { afterEach, expect } from '@jest/globals';

/** A workflow command as the runner recognises it: `::name` after leading whitespace. */
const COMMAND = /^\s*::[A-Za-z][\w-]*(?: [^:]*)?::/;
let caught: string[] = [];

function guard(stream: NodeJS.WriteStream, name: string): void {
  const write = stream.write.bind(stream) as (chunk: any, ...rest: any[]) => boolean;
  stream.write = ((chunk: any, ...rest: any[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (!COMMAND.test(text) && !text.includes('\n')) return write(chunk, ...rest);
    const lines = text.split('\n');
    const bad = lines.filter((l) => COMMAND.test(l));
    if (bad.length === 0) return write(chunk, ...rest);
    const testPath = expect.getState().testPath;
    const ours = !!testPath && (new Error().stack ?? '').includes(testPath);
    for (const l of bad) {
      const line = `${name}: ${l.trim().slice(0, 60)}`;
      if (ours) caught.push(line);
      else heldBack(line);
    }
    return write(lines.filter((l) => !COMMAND.test(l)).join('\n'), ...rest);
  }) as typeof stream.write;
}

/** Notes a held-back command that no test's own call wrote (without the `::` a runner acts on). */
function heldBack(line: string): void {
  realStderr(`[no-workflow-commands] held back a workflow command written outside a test's own calls: ${line.replace(/::/g, ': :')}\n`);
}
const realStderr = process.stderr.write.bind(process.stderr) as (s: string) => boolean;

guard(process.stdout, 'stdout');
guard(process.stderr, 'stderr');

afterEach(() => {
  const lines = caught;
  caught = [];
  if (lines.length) {
    throw new Error(
      `this test wrote ${lines.length} workflow command(s) to the real output, which a runner would act on: ${lines.join(' | ')}. Capture them in the test (jest.spyOn(process.stdout, 'write')).`,
    );
  }
});
