#!/usr/bin/env node
// Runs the local GitHub Actions cache service until killed.
//   node scripts/cache-server.mjs --dir DIR [--port N] [--host H]
// Prints one line: "cache service listening on <url>". Point @actions/cache at it with
//   ACTIONS_CACHE_SERVICE_V2=true ACTIONS_RESULTS_URL=<url> ACTIONS_RUNTIME_TOKEN=x GITHUB_SERVER_URL=https://github.com
// Control endpoints: GET <url>_control/{stats,log,entries,faults}, POST <url>_control/faults (JSON array),
// DELETE <url>_control/faults, POST <url>_control/reset ({"entries": true} also wipes the store).
import { parseArgs } from 'node:util';
import { startCacheServer } from './lib/cache-server.mjs';

const usage = 'usage: node scripts/cache-server.mjs --dir DIR [--port N] [--host H]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      dir: { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  console.error(`${err instanceof Error ? err.message : err}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const port = Number(values.port);
if (!values.dir || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(usage);
  process.exit(2);
}

const server = await startCacheServer({ dir: values.dir, port, host: values.host });
console.log(`cache service listening on ${server.url}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
