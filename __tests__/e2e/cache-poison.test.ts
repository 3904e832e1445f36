// No cache poisoning through the loopback registry or the export on disk, on a real Docker Engine
// with the local cache service (scripts/test.sh runs this file on toolchains a, b and c):
// - during a build, another local process finds the registry's port and tries to read the cache,
//   push a layer and a document, and overwrite the export: every request is refused, and the saved
//   cache is this build's: a later run on a fresh builder is an exact hit whose image has the
//   build's own payload;
// - between main and post, another process rewrites the export on disk (its index, or a layer):
//   post saves nothing, because the export is not the one BuildKit reported.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runAction, startCache, workspaceFrom, uniqueRepo, pruneBuilder, stepCached, registryBlobs, cacheArchiveContents, containsBytes } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(15 * 60 * 1000);

const ATTACKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers/attacker.mjs');
const ATTACKER_TEXT = 'attacker-payload-text';
const PAYLOAD = 'legit-payload-text';

interface Attack {
  targets: number[];
  results: { port: number; what: string; status: number }[];
}

function runAttacker(): Promise<Attack> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [ATTACKER], { env: { ...process.env, ATTACKER_TEXT } }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as Attack),
    );
  });
}

/** The address the build's RUN steps reach the host on: the daemon's bridge gateway. */
function hostAddress(): string {
  return execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}'], { encoding: 'utf8' }).trim();
}

/**
 * A gate the fixture's first RUN step waits at. The first time it is reached, the attacker runs
 * (the loopback registry is serving this build then) and the gate opens when it is done.
 */
async function startGate(withAttacker: boolean): Promise<{ url: string; attack: Promise<Attack>; close(): Promise<void> }> {
  let attack: Promise<Attack> | undefined;
  let started!: (a: Promise<Attack>) => void;
  const first = new Promise<Attack>((resolve, reject) => (started = (a) => a.then(resolve, reject)));
  const server = http.createServer((req, res) => {
    attack ??= withAttacker ? runAttacker() : Promise.resolve({ targets: [], results: [] });
    started(attack);
    attack.finally(() => res.end('open')).catch(() => undefined);
  });
  const host = hostAddress();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/gate`,
    attack: first,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** The run succeeded; else the error shows the end of its log. */
function succeeded(r: Awaited<ReturnType<typeof runAction>>): void {
  if (r.conclusion !== 'success') throw new Error(`the run failed:\n${r.log.slice(-3000)}`);
}

const warnings = (r: Awaited<ReturnType<typeof runAction>>) =>
  [...r.main.annotations, ...(r.post?.annotations ?? [])].filter((a) => a.level === 'warning').map((a) => a.message);
const indexSaves = (cache: CacheServer) => cache.log().filter((l) => l.kind === 'finalize' && l.status === 200 && l.key?.startsWith('obc1-idx-')).length;

/** A cache service, a workspace of the poison project and its gate, for the tests of one describe. */
function fixture(withAttacker: boolean): { cache: CacheServer; ws: string; gate: Awaited<ReturnType<typeof startGate>> } {
  const f = {} as { cache: CacheServer; ws: string; gate: Awaited<ReturnType<typeof startGate>> };
  beforeAll(async () => {
    f.cache = await startCache();
    f.ws = await workspaceFrom('poison');
    f.gate = await startGate(withAttacker);
  });
  afterAll(async () => {
    await f.gate.close();
    await f.cache.close();
  });
  return f;
}

describe('another process on the runner cannot poison the layer cache', () => {
  const f = fixture(true);

  test('during the build every request without the run credential is refused, and the saved cache is the build’s own', async () => {
    const { cache, ws, gate } = f;
    const repo = uniqueRepo('poison');
    pruneBuilder();
    const r = await runAction({ workspace: ws, cache, inputs: { images: repo, 'build-args': `GATE=${gate.url}` }, sha: '1'.repeat(40) });
    succeeded(r);
    const attack = await gate.attack;
    // It found the registry (its port was listening during the build; another run's may be there
    // too) and tried everything.
    // A registry of another run that ended meanwhile refuses connections (status 0); one that
    // answers never answers anything but 401.
    expect(attack.targets.length).toBeGreaterThanOrEqual(1);
    expect(attack.results.filter((x) => x.status !== 401 && x.status !== 0)).toEqual([]);
    // This build's registry (it serves until the gate opens) answered every attempt.
    const answeredAll = attack.targets.filter((port) => attack.results.filter((x) => x.port === port).every((x) => x.status === 401));
    expect(answeredAll.length).toBeGreaterThanOrEqual(1);
    expect(attack.results.map((x) => x.what)).toContain('overwrite the export');
    expect(r.log).toContain('gate-passed');
    expect(r.log).toMatch(/Layer cache: saved obc1-idx-/);
    expect(warnings(r).filter((w) => /Layer cache/.test(w))).toEqual([]);
    expect(containsBytes(await cacheArchiveContents(cache), ATTACKER_TEXT)).toBe(false);

    // A later run on a fresh builder: an exact hit, and the image has the build's own payload.
    pruneBuilder();
    const again = await runAction({ workspace: ws, cache, inputs: { images: repo, 'build-args': `GATE=${gate.url}` }, sha: '2'.repeat(40) });
    succeeded(again);
    expect(again.outputs['cache-hit']).toBe('exact');
    expect(stepCached(again.log, 'echo legit-payload-text')).toBe(true);
    const blobs = await registryBlobs(repo, 'main');
    expect(containsBytes(blobs, PAYLOAD)).toBe(true);
    expect(containsBytes(blobs, ATTACKER_TEXT)).toBe(false);
  });
});

describe('post saves only the export BuildKit reported', () => {
  const f = fixture(false);

  /** The export's directory, from the state main handed to post. */
  const exportDir = (main: { state: Record<string, string> }) => JSON.parse(main.state.obc).cache.paths.layoutOut as string;

  async function coldRun(tamper: (dir: string) => Promise<void>) {
    const { cache, ws, gate } = f;
    pruneBuilder();
    const before = indexSaves(cache);
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: { images: uniqueRepo('tamper'), 'build-args': `GATE=${gate.url}` },
      sha: '3'.repeat(40),
      // Between main and post, as another process on the runner would.
      afterEntry: async (e) => (e.entry === 'main' ? tamper(exportDir(e)) : undefined),
    });
    return { r, saved: indexSaves(cache) - before };
  }

  test.each([
    [
      'the index names another document',
      async (dir: string) => {
        const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
        index.manifests[0].digest = 'sha256:' + 'e'.repeat(64);
        await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
      },
      /not saved: this build's cache export changed after the build: the export on disk is sha256:eeeeeeeeeeee, but BuildKit reported sha256:/,
    ],
    [
      'a layer was replaced',
      async (dir: string) => {
        const blobs = path.join(dir, 'blobs/sha256');
        const sized = await Promise.all((await fs.readdir(blobs)).map(async (f) => ({ f, size: (await fs.stat(path.join(blobs, f))).size })));
        const largest = sized.sort((a, b) => b.size - a.size)[0].f;
        await fs.writeFile(path.join(blobs, largest), ATTACKER_TEXT);
      },
      /not saved: this build's cache export changed after the build: the exported blob sha256:\w+ does not match its digest/,
    ],
  ])('%s: nothing is saved', async (_name, tamper, message) => {
    const { cache } = f;
    const { r, saved } = await coldRun(tamper);
    succeeded(r);
    expect(warnings(r).some((w) => message.test(w))).toBe(true);
    expect(saved).toBe(0);
    expect(containsBytes(await cacheArchiveContents(cache), ATTACKER_TEXT)).toBe(false);
  });

  test('the same run untouched is saved', async () => {
    const { r, saved } = await coldRun(async () => undefined);
    succeeded(r);
    expect(saved).toBe(1);
  });
});
