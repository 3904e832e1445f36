import { runMain } from './main-impl.js';
import { exitWhenDone } from './exit.js';

await runMain();
await exitWhenDone();
