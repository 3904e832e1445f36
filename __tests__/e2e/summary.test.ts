// The job summary, the failure annotation and the condensed build log, from real runs of
// the bundled dist/ against the real Docker Engine, buildx, registry and the local cache service,
// read from the files the runner emulation collects (GITHUB_STEP_SUMMARY, workflow commands).
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { runAction, startCache, workspaceFrom, uniqueRepo, registryDigest, registryTags, tempDir, sha256, DEFAULT_PAYLOAD, ROOT } from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(10 * 60 * 1000);

const SECRET = 'summary-secret-value-5c1e';
const APP_INPUTS = { secrets: `token=${SECRET}`, 'build-args': `EXPECTED_DIGEST=${sha256(SECRET)}` };

let cache: CacheServer;
beforeAll(async () => {
  cache = await startCache();
});
afterAll(async () => {
  await cache.close();
});

describe('a successful push', () => {
  const repo = uniqueRepo('summary');
  let r: Awaited<ReturnType<typeof runAction>>;
  beforeAll(async () => {
    const ws = await workspaceFrom('app');
    r = await runAction({ workspace: ws, cache, inputs: { images: repo, ...APP_INPUTS }, ref: 'refs/heads/main', secrets: [SECRET] });
  });

  test('the run succeeded', () => {
    expect(r.main.conclusion).toBe('success');
    expect(r.post?.conclusion).toBe('success');
    expect(r.log).toContain('secret-hash-ok');
  });

  test('main summary: pushed reference with digest, push reason, timings, cache, toolchain, secret id', async () => {
    const s = r.main.summary;
    const digest = await registryDigest(repo, 'main');
    expect(digest).toMatch(/^sha256:/);
    expect(s).toContain('### ✅ Docker build pushed 1 tag');
    expect(s).toContain(`- \`${repo}:main@${digest}\``);
    expect(s).toContain('| Push | yes (push: auto pushes on push event) |');
    expect(s).toMatch(/\| Build time \| \d+(\.\d)? (s|ms) \|/);
    expect(s).toMatch(/\| Layer cache \| miss: nothing restored, \d+(\.\d)? (ms|s) in the cache service \|/);
    expect(s).toMatch(/\| Toolchain \| Docker \d+\.\d+\.\d+\S*, buildx \d+\.\d+\.\d+\S*, BuildKit v\S+; builder `default` \(docker driver\) \|/);
    expect(s).toContain('| Build secrets | `token` (ids only) |');
    expect(s).toContain('| Dockerfile | `Dockerfile` |');
  });

  test('post summary: the save section with bytes and the key', () => {
    const s = r.post?.summary ?? '';
    expect(s).toContain('### Layer cache save');
    expect(s).toMatch(/Saved \d+(\.\d)? (B|KiB|MiB) in \d+ entr(y|ies) under `obc1-idx-[^`]+`, \d+(\.\d)? (ms|s) in the cache service\./);
    expect(s).toContain(r.outputs['cache-key']);
  });

  test('no secret value in either summary', () => {
    expect(r.main.summary).not.toContain(SECRET);
    expect(r.post?.summary).not.toContain(SECRET);
  });

  test('the build log is condensed: step headers, CACHED/DONE and output kept, BuildKit bookkeeping hidden', () => {
    expect(r.log).toMatch(/^#\d+ \[deps 3\/3\] RUN dd if=\/dev\/urandom/m);
    expect(r.log).toMatch(/^#\d+ DONE \d/m);
    expect(r.log).not.toMatch(/^#\d+ transferring (dockerfile|context)/m);
    expect(r.log).not.toMatch(/^#\d+ \[internal\] load build definition/m);
    expect(r.log).toMatch(/\(\d+ lines? of BuildKit transfer and export progress hidden; enable debug logging/);
    expect(r.log).not.toMatch(/--secret|--build-arg|--metadata-file/);
  });

  test('each phase of main and post is its own log group', () => {
    expect(r.main.groups).toEqual(expect.arrayContaining(['Docker and buildx', 'Builder', 'Restore layer cache', 'Build']));
    expect(r.post?.groups).toEqual(expect.arrayContaining(['Save layer cache', 'Clean up']));
  });
});

describe('a pull request', () => {
  test('the summary says it was not pushed and why, and that the cache is read-only', async () => {
    const repo = uniqueRepo('summary-pr');
    const ws = await workspaceFrom('app');
    const payload = { ...DEFAULT_PAYLOAD, number: 7, pull_request: { number: 7, head: { ref: 'fix/z', sha: 'c'.repeat(40) }, base: { ref: 'main' } } };
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: { images: repo, ...APP_INPUTS },
      event: 'pull_request',
      ref: 'refs/pull/7/merge',
      payload,
      secrets: [SECRET],
    });
    expect(r.main.conclusion).toBe('success');
    const s = r.main.summary;
    expect(s).toContain('### ☑️ Docker build succeeded (not pushed)');
    expect(s).toContain(`- \`${repo}:pr-7\``);
    expect(s).toContain('| Push | no (push: auto does not push on pull_request events) |');
    expect(s).toContain('not saved (cache-save: auto only reads the cache on pull requests)');
    expect(s).not.toContain('| Digest |');
    expect(r.post?.summary).toContain('Not saved: cache-save: auto only reads the cache on pull requests.');
  });
});

describe('a Dockerfile syntax error', () => {
  let r: Awaited<ReturnType<typeof runAction>>;
  let debugRun: Awaited<ReturnType<typeof runAction>>;
  const repo = uniqueRepo('broken');
  beforeAll(async () => {
    const ws = await workspaceFrom('broken');
    r = await runAction({ workspace: ws, cache, inputs: { images: repo } });
    debugRun = await runAction({ workspace: ws, cache, inputs: { images: repo }, debug: true });
  });

  test('one error annotation on the Dockerfile line, with buildx ERROR line as the message', () => {
    expect(r.main.conclusion).toBe('failure');
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toBe('Dockerfile');
    expect(errors[0].line).toBe(3);
    // buildx 0.13 says "ERROR: failed to solve: …", later releases "ERROR: failed to build: failed to solve: …".
    expect(errors[0].message).toMatch(/^ERROR: (failed to build: )?failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY/);
    expect(errors[0].message).not.toContain('\n');
    expect(errors[0].title).toBe('Docker build failed at Dockerfile:3');
  });

  test('no stack trace and no wrapper around the message', () => {
    expect(r.log).not.toMatch(/at .*\.js:\d+/);
    expect(r.log).not.toContain('failed with exit code');
    // buildx's own excerpt still reaches the log.
    expect(r.log).toContain('>>> COPPY nothing /here');
  });

  test('the summary says what is known: failed, where, the error, the tags it would have had, the build time', () => {
    const s = r.main.summary;
    expect(s).toContain('### ❌ Docker build failed');
    expect(s).toContain('The step failed at `Dockerfile:3`:');
    expect(s).toMatch(/\nERROR: (failed to build: )?failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY/);
    expect(s).toContain(`- \`${repo}:main\``);
    expect(s).toMatch(/\| Build time \| \d/);
    expect(s).toContain('| Push | no: the step failed first (push: auto pushes on push event) |');
    expect(r.post?.summary).toContain('Not saved: the build did not succeed.');
  });

  test('with debug logging the full progress and the full buildx command are shown', () => {
    expect(debugRun.main.conclusion).toBe('failure');
    expect(debugRun.log).toMatch(/^#\d+ transferring dockerfile/m);
    expect(debugRun.log).toMatch(/\[debug\] Build command: docker buildx build --builder default --file Dockerfile/);
  });
});

describe('a failing RUN that spans several lines, in a Dockerfile under a subdirectory', () => {
  test("the annotation covers the instruction's lines in that file", async () => {
    const ws = await tempDir('ws');
    await fs.mkdir(path.join(ws, 'docker'));
    await fs.writeFile(path.join(ws, 'docker', 'app.Dockerfile'), 'FROM busybox\nRUN echo "step one" \\\n  && exit 3\n');
    const r = await runAction({ workspace: ws, cache, inputs: { images: uniqueRepo('runfail'), file: 'docker/app.Dockerfile' } });
    expect(r.main.conclusion).toBe('failure');
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'docker/app.Dockerfile', line: 2, endLine: 3 });
    expect(errors[0].message).toMatch(
      /^ERROR: (failed to build: )?failed to solve: process "\/bin\/sh -c echo \\"step one\\"\s+&& exit 3" did not complete successfully: exit code: 3$/,
    );
    expect(r.main.summary).toContain('The step failed at `docker/app.Dockerfile:2`:');
    // The step's own output is kept in the condensed log.
    expect(r.log).toMatch(/^#\d+ \d+\.\d+ step one$/m);
  });
});

describe('npm run local (the README quick start), against the real stack', () => {
  const repo = uniqueRepo('local-run');
  let stateDir: string;
  const local = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['scripts/local-run.mjs', '--no-setup', '--state-dir', stateDir, '--image', repo, ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });

  beforeAll(async () => {
    stateDir = await tempDir('local-state');
  });

  test('the default run builds example/ with the dummy npm_token, pushes, and says where the image went', async () => {
    const r = await local([]);
    expect(r.code).toBe(0);
    const digest = await registryDigest(repo, 'main');
    expect(digest).toMatch(/^sha256:/);
    expect(r.out).toContain(`== Running the action: push refs/heads/main, context example, image ${repo}`);
    expect(r.out).toContain(`Pushed to the local registry 127.0.0.1:5000:\n  ${repo}:main@${digest}`);
    expect(r.out).toMatch(/^Layer cache: miss \(key obc1-idx-/m);
    expect(r.out).toContain('== Job summary (Markdown)\n### ✅ Docker build pushed 1 tag');
    expect(r.out).toContain('| Build secrets | `npm_token` (ids only) |');
    expect(r.out).not.toContain('local-run-dummy-npm-token');
  });

  test('a second run restores the cache kept in the state directory', async () => {
    const r = await local([]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Layer cache: exact \(key obc1-idx-/m);
  });

  test('--event tag --ref v1.2.3 pushes the version and latest', async () => {
    const r = await local(['--event', 'tag', '--ref', 'v1.2.3']);
    expect(r.code).toBe(0);
    expect(await registryTags(repo)).toEqual(['latest', 'main', 'v1.2.3']);
  });

  test("--event pull_request builds without pushing; a broken context fails with the annotation's line", async () => {
    const pr = await local(['--event', 'pull_request', '--ref', '9']);
    expect(pr.code).toBe(0);
    expect(pr.out).toContain(`Built, not pushed. Tags: ${repo}:pr-9`);
    const broken = await local(['--context', path.join(ROOT, '__tests__/fixtures/projects/broken')]);
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/^Error \(Dockerfile:3\): ERROR: (failed to build: )?failed to solve: dockerfile parse error on line 3/m);
  });
});
