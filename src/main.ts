import { runMain } from './main-impl.js';

await runMain();
