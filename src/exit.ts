// The end of a step's process. A cache call abandoned at its deadline has its requests destroyed at
// once (cache/service.ts), but the library that made it may still hold a retry timer for a few
// seconds; the step must not wait for that. So once main or post has done its work (outputs, state
// and the summary are written by then), the process flushes its output and exits.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';

const flush = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => (stream.writableEnded ? resolve() : stream.write('', () => resolve())));

/** Exits with the exit code set so far (core.setFailed sets 1), after stdout and stderr are flushed. */
export async function exitWhenDone(): Promise<never> {
  const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
  if (left.length) core.debug(`Exiting with work left behind: ${left.join(', ')}.`);
  await flush(process.stdout);
  await flush(process.stderr);
  process.exit();
}

/**
 * True when the module at moduleUrl is the script this process was started with (the runner runs
 * `node dist/main/index.js`), false when another program imported it (@github/local-action
 * imports an entry point and calls its run(), in its own process, which must not exit).
 */
export function isProcessEntry(moduleUrl: string, script: string | undefined = process.argv[1]): boolean {
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
