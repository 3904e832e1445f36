import { runPost } from './post-impl.js';
import { exitWhenDone } from './exit.js';

await runPost();
await exitWhenDone();
