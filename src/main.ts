// The main step. The runner runs this file (`node dist/main/index.js`): it runs the step, then
// exits once the work is done (see exit.ts). A host that imports it instead, as
// @github/local-action does, calls run() and keeps its own process: importing runs nothing.
import { runMain } from './main-impl.js';
import { exitWhenDone, isProcessEntry } from './exit.js';

export async function run(): Promise<void> {
  await runMain();
}

if (isProcessEntry(import.meta.url)) {
  await run();
  await exitWhenDone();
}
