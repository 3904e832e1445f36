// The post step: run by the runner as `node dist/post/index.js`, or imported by a host such as
// @github/local-action, which calls run() (see main.ts).
import { runPost } from './post-impl.js';
import { exitWhenDone, isProcessEntry } from './exit.js';

export async function run(): Promise<void> {
  await runPost();
}

if (isProcessEntry(import.meta.url)) {
  await run();
  await exitWhenDone();
}
