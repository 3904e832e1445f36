// Build secrets and the leak guard, through the bundled dist/ against the real Docker
// Engine, buildx, registry and the local Actions cache service.
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  runAction,
  startCache,
  workspaceFrom,
  uniqueRepo,
  pruneBuilder,
  registryDigest,
  registryTags,
  registryBlobs,
  cacheArchiveContents,
  containsBytes,
  sha256,
  tempDir,
  DEFAULT_PAYLOAD,
  REGISTRY,
  expectExit0,
} from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

// Four values with what usually gets lost: a trailing newline, several lines, "=", quotes, and
// leading and trailing spaces. Each goes in by a different route and is checked by its sha256.
const INLINE = `inline "dq" 'sq' = eq  \n  second = line  \n`;
const SPACED = `  lead and trail = spaces "q"  `;
const FILE = `file line "1" = x\n\tTabbed 'line'  \nno newline at the end`;
const ENV = `env value = with "quotes"\n  second env line  \n`;
const SECRETS_INPUT = ['inline<<EOS', `inline "dq" 'sq' = eq  `, '  second = line  ', '', 'EOS', `spaced=${SPACED}`].join('\n');
const ALL = { inline: INLINE, spaced: SPACED, fromfile: FILE, fromenv: ENV };
const CHECKS = Object.entries(ALL)
  .map(([id, v]) => `${id}:${sha256(v)}`)
  .join(' ');

// What must never appear: each value and each of its non-blank lines (trimmed too).
function pieces(values: string[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    out.add(v);
    for (const l of v.split('\n')) {
      if (l.trim().length >= 8) {
        out.add(l);
        out.add(l.trim());
      }
    }
  }
  return [...out];
}

type Result = Awaited<ReturnType<typeof runAction>>;

/** The value (and its lines) appears in no log line, output, state or summary of the run. */
function expectNowhereInRun(r: Result, values: string[]): void {
  const places = {
    log: r.log,
    rawStdout: r.main.rawStdout + (r.post?.rawStdout ?? ''),
    stderr: r.main.stderr + (r.post?.stderr ?? ''),
    outputs: JSON.stringify(r.outputs),
    state: JSON.stringify(r.main.state),
    summary: r.main.summary + (r.post?.summary ?? ''),
    annotations: JSON.stringify([...r.main.annotations, ...(r.post?.annotations ?? [])]),
  };
  for (const p of pieces(values)) {
    for (const [where, text] of Object.entries(places)) {
      if (text.includes(p)) throw new Error(`a secret piece (${p.length} bytes) is in the ${where}`);
    }
  }
}

async function secretDirs(r: Result): Promise<string[]> {
  return (await fs.readdir(r.context.runnerTemp)).filter((d) => d.startsWith('obc-secrets-'));
}

let cache: CacheServer;
beforeAll(async () => {
  cache = await startCache();
});
afterAll(async () => {
  await cache.close();
});

describe('secrets, secret-files and secret-envs arrive byte-exact; nothing leaks', () => {
  const repo = uniqueRepo('secrets');
  let r: Result;
  let ws: string;

  beforeAll(async () => {
    ws = await workspaceFrom('secrets');
    await fs.writeFile(path.join(ws, 'file-secret.txt'), FILE);
    cache.resetLog();
    // The values are the same on every run of the suite: a daemon that built them before would
    // serve the secret step from its own cache, and the step would not run.
    pruneBuilder();
    // The values are NOT registered as job secrets here: the action must mask them itself.
    r = await runAction({
      workspace: ws,
      cache,
      inputs: {
        images: repo,
        tags: 'type=ref,event=branch\ntype=raw,value=extra',
        secrets: SECRETS_INPUT,
        'secret-files': 'fromfile=file-secret.txt',
        'secret-envs': 'fromenv=OBC_E2E_SECRET_ENV',
        'build-args': `CHECKS=${CHECKS}\nDEPLOY_TOKEN=not-really-a-token-value`,
      },
      env: { OBC_E2E_SECRET_ENV: ENV },
      debug: true,
    });
  });

  test('the build sees every value byte for byte', () => {
    expectExit0(r);
    expectExit0(r, 'post');
    for (const id of Object.keys(ALL)) expect(r.log).toContain(`secret-ok-${id}`);
    expect(r.log).not.toMatch(/secret-mismatch-(inline|spaced|fromfile|fromenv)/);
  });

  test('the leak guard checked image and cache before the push, and the digest output is the registry digest of every tag', async () => {
    expect(r.log).toMatch(/Leak guard: looked for \d+ value\(s\) of 4 secret\(s\) in \d+ blob\(s\)/);
    expect(r.log).toContain('Leak guard: no secret value found.');
    const tags = r.outputs.tags.split('\n');
    expect(tags).toEqual([`${repo}:main`, `${repo}:extra`]);
    expect(await registryTags(repo)).toEqual(['extra', 'main']);
    expect(r.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const t of ['main', 'extra']) expect(await registryDigest(repo, t)).toBe(r.outputs.digest);
    // The guard ran between build and push.
    const groups = r.main.groups;
    expect(groups.indexOf('Leak guard')).toBeGreaterThan(groups.indexOf('Build'));
    expect(groups.indexOf('Push')).toBeGreaterThan(groups.indexOf('Leak guard'));
  });

  test('a credential-looking build-arg gets a warning pointing to secrets', () => {
    const w = r.main.annotations.filter((a) => a.level === 'warning' && a.message.includes('"DEPLOY_TOKEN" looks like a credential'));
    expect(w).toHaveLength(1);
    expect(w[0].message).toContain('secrets');
    expect(r.log).not.toContain('not-really-a-token-value');
  });

  test('the values are in no log line (debug on), output, state, summary, argv, registry blob or cache archive', async () => {
    expectNowhereInRun(r, Object.values(ALL));
    // The buildx command line (shown at debug level) names secrets by id and path or variable only.
    const cmd = r.log.split('\n').find((l) => l.includes('Build command: docker buildx build'));
    expect(cmd).toBeDefined();
    expect(cmd).toMatch(/--secret id=fromenv,env=OBC_E2E_SECRET_ENV/);
    expect(cmd).toMatch(/--secret id=inline,src=\S+obc-secrets-[0-9a-f]+\/s0/);
    const blobs = await registryBlobs(repo, 'main');
    expect(blobs.length).toBeGreaterThan(3);
    const archives = await cacheArchiveContents(cache);
    expect(cache.log().some((l) => l.kind === 'upload')).toBe(true);
    for (const p of pieces(Object.values(ALL))) {
      expect(containsBytes(blobs, p)).toBe(false);
      expect(containsBytes(archives, p)).toBe(false);
    }
    // The search works: a file of the image is found in the registry's (gzip) layers and the cache.
    expect(containsBytes(blobs, 'built without secrets')).toBe(true);
    expect(containsBytes(archives, 'built without secrets')).toBe(true);
  });

  test('the secret directory is gone after the run', async () => {
    expect(r.log).toMatch(/obc-secrets-[0-9a-f]{12}/);
    expect(await secretDirs(r)).toEqual([]);
  });
});

/**
 * The leaky fixture with a step unique to this test first. BuildKit's cache key of a RUN step does
 * not include the secret's value: without this, a later test would reuse an earlier test's layer.
 */
async function leakyWorkspace(): Promise<string> {
  const ws = await workspaceFrom('leaky');
  const file = path.join(ws, 'Dockerfile');
  const text = await fs.readFile(file, 'utf8');
  await fs.writeFile(file, text.replace(/^FROM busybox$/m, `FROM busybox\nRUN echo ${randomBytes(8).toString('hex')} > /nonce`));
  return ws;
}

describe('the leak guard stops a Dockerfile that copies a secret into a layer', () => {
  const LEAK = 'leaky "value" = 42  \nsecond-leaky-line-xyz\n';

  test('nothing is pushed, no cache is saved, the error names the id and a layer digest', async () => {
    const repo = uniqueRepo('leaky');
    const ws = await leakyWorkspace();
    cache.resetLog();
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: { images: repo, secrets: ['token<<EOF', 'leaky "value" = 42  ', 'second-leaky-line-xyz', '', 'EOF'].join('\n') },
    });
    expect(r.main.exitCode).toBe(1);
    expectExit0(r, 'post');
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(
      /^secret-scan: secret "token" is in (image|layer cache) blob sha256:[0-9a-f]{64} \((gzip|zstd) layer data\)\. Nothing was pushed/,
    );
    expect(errors[0].message).not.toContain('\n');
    expect(await registryTags(repo)).toEqual([]);
    expect(cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload')).toEqual([]);
    expect(r.log).toContain('Layer cache not saved: the build did not succeed.');
    // The export about to be saved is deleted too.
    const root = path.join(r.context.runnerTemp, 'oneshot-build');
    const outs: string[] = [];
    for (const d of await fs.readdir(root).catch(() => [] as string[])) {
      if (
        await fs.stat(path.join(root, d, 'out')).then(
          () => true,
          () => false,
        )
      )
        outs.push(d);
    }
    expect(outs).toEqual([]);
    expect(r.outputs.digest ?? '').toBe('');
    expectNowhereInRun(r, [LEAK]);
    expect(await secretDirs(r)).toEqual([]);
  });

  // A one-line secret over 64 KiB is split into needles the guard can search for, not skipped.
  test('a one-line secret over 64 KiB copied into a layer is found: nothing pushed, nothing cached', async () => {
    const LONG = randomBytes(36 * 1024).toString('hex');
    expect(LONG.length).toBeGreaterThan(64 * 1024);
    const repo = uniqueRepo('leaky-long');
    const ws = await leakyWorkspace();
    cache.resetLog();
    const r = await runAction({ workspace: ws, cache, inputs: { images: repo, secrets: `token=${LONG}` } });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.annotations.filter((a) => a.level === 'warning' && a.message.includes('secret-scan'))).toEqual([]);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(
      /^secret-scan: secret "token" is in (image|layer cache) blob sha256:[0-9a-f]{64} \((gzip|zstd) layer data\)\. Nothing was pushed/,
    );
    expect(r.log).toMatch(/Leak guard: looked for 4 value\(s\) of 1 secret\(s\)/);
    expect(await registryTags(repo)).toEqual([]);
    expect(cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload')).toEqual([]);
    expect(containsBytes(await cacheArchiveContents(cache), LONG.slice(0, 4096))).toBe(false);
    expect(r.log).toContain('Layer cache not saved: the build did not succeed.');
    expectNowhereInRun(r, [LONG]);
    expect(await secretDirs(r)).toEqual([]);
  });

  test('with secret-scan: false the same build does push the leak (the guard is what stops it)', async () => {
    const repo = uniqueRepo('leaky-unguarded');
    const ws = await leakyWorkspace();
    const r = await runAction({
      workspace: ws,
      inputs: { images: repo, cache: 'false', 'secret-scan': 'false', secrets: 'token=unguarded-leak-value-123' },
    });
    expectExit0(r);
    expect(r.log).not.toContain('Leak guard');
    expect(containsBytes(await registryBlobs(repo, 'main'), 'unguarded-leak-value-123')).toBe(true);
    expect(await secretDirs(r)).toEqual([]);
  });

  test('a leak is stopped on a build that only saves the cache (no push)', async () => {
    const ws = await leakyWorkspace();
    cache.resetLog();
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: { push: 'false', 'cache-scope': 'leaky-nopush', secrets: 'token=cache-only-leak-value' },
    });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors[0]?.message).toMatch(/^secret-scan: secret "token" is in layer cache blob sha256:[0-9a-f]{64} /);
    expect(cache.log().filter((l) => l.kind === 'create' || l.kind === 'upload')).toEqual([]);
    expectNowhereInRun(r, ['cache-only-leak-value']);
  });
});

describe('pull request from a fork', () => {
  test('builds without pushing or logging in, and says why', async () => {
    const repo = uniqueRepo('fork');
    const ws = await tempDir('ws');
    await fs.writeFile(path.join(ws, 'Dockerfile'), 'FROM busybox\nRUN echo fork-build > /f.txt\n');
    const payload = {
      ...DEFAULT_PAYLOAD,
      number: 7,
      pull_request: {
        number: 7,
        head: { ref: 'patch-1', sha: 'c'.repeat(40), repo: { full_name: 'mallory/app', fork: true } },
        base: { ref: 'main', repo: { full_name: 'acme/app' } },
      },
    };
    const r = await runAction({
      workspace: ws,
      event: 'pull_request',
      ref: 'refs/pull/7/merge',
      payload,
      // What a fork's run gets: the user name, but empty secrets.
      inputs: { images: repo, push: 'true', cache: 'false', registry: REGISTRY, username: 'ci-bot', password: '', secrets: 'token=' },
    });
    expectExit0(r);
    expect(r.log).toMatch(/Not pushing \(pull request from the fork mallory\/app: it gets no secrets and no write token/);
    expect(r.log).toMatch(/No registry login: pull request from the fork mallory\/app/);
    expect(r.log).not.toMatch(/Logged in to/);
    expect(r.outputs.digest).toBe('');
    expect(await registryTags(repo)).toEqual([]);
  });
});

describe('secret sources that cannot be read fail with one line naming the input', () => {
  const rows: [string, Record<string, string>, RegExp][] = [
    [
      'a missing secret file',
      { 'secret-files': 'f=does/not/exist.txt' },
      /^secret-files: secret "f": file does\/not\/exist\.txt does not exist or cannot be read$/,
    ],
    ['an unset environment variable', { 'secret-envs': 'e=OBC_E2E_NOT_SET' }, /^secret-envs: secret "e": environment variable OBC_E2E_NOT_SET is not set$/],
    ['a heredoc without its closing line', { secrets: 'k<<EOF\nheredoc-value-never-shown\n' }, /^secrets: secret "k": no closing line "EOF" for "k<<EOF"$/],
  ];
  test.each(rows)('%s', async (_name, inp, re) => {
    const ws = await tempDir('ws');
    await fs.writeFile(path.join(ws, 'Dockerfile'), 'FROM busybox\n');
    const r = await runAction({ workspace: ws, inputs: { push: 'false', cache: 'false', ...inp } });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(re);
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect(r.log).not.toContain('heredoc-value-never-shown');
    expect(await secretDirs(r)).toEqual([]);
  });
});
