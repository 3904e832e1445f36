// build-push-action's inputs through the bundled dist/, on the real toolchains: load, then
// test-run, then push (a failing test pushes nothing, the layer cache is still saved); a named
// build context; an SSH agent for RUN --mount=type=ssh; call: check (or its refusal on an old
// buildx); an extra registry cache read back by another repository's build.
import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  runAction,
  startCache,
  workspaceFrom,
  uniqueRepo,
  pruneBuilder,
  stepCached,
  registryTags,
  registryDigest,
  tempDir,
  REGISTRY,
  TOOLCHAIN,
  expectExit0,
} from './harness.js';
import type { CacheServer } from './harness.js';

jest.setTimeout(6 * 60 * 1000);

let cache: CacheServer;
let ws: string;
beforeAll(async () => {
  cache = await startCache();
  ws = await workspaceFrom('build-inputs');
});
afterAll(async () => {
  await cache.close();
});

const nonce = () => `NONCE=${randomBytes(6).toString('hex')}`;
const hasBuildxCall = () => /--call\b/.test(spawnSync('docker', ['buildx', 'build', '--help'], { encoding: 'utf8' }).stdout ?? '');

describe('load, test-run, then push', () => {
  test('the loaded image is tested before the push; the named context is in it; the summary says so', async () => {
    const repo = uniqueRepo('tested');
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: {
        images: repo,
        load: 'true',
        'build-contexts': 'extra=extra',
        'build-args': nonce(),
        'test-run': 'docker run --rm "$OBC_IMAGE" cat /greeting.txt | grep -q "hello from the named context"\necho "TEST-SAW-$OBC_IMAGE_ID"',
      },
    });
    expectExit0(r);
    expect(r.log).toMatch(/TEST-SAW-sha256:[0-9a-f]{64}/);
    // The test ran before anything was pushed.
    const testAt = r.log.indexOf('[group] Test (test-run)');
    const pushAt = r.log.lastIndexOf('[group] Push');
    expect(testAt).toBeGreaterThan(0);
    expect(pushAt).toBeGreaterThan(testAt);
    expect(await registryTags(repo)).toContain('main');
    // load: the tag is in the local image store for later steps.
    expect(execFileSync('docker', ['run', '--rm', `${repo}:main`], { encoding: 'utf8' })).toBe('hello from the named context\n');
    expect(r.main.summary).toMatch(/\| Test \(test-run\) \| passed in /);
    const md = JSON.parse(r.outputs.metadata);
    expect(md['containerimage.digest']).toMatch(/^sha256:/);
    expect(JSON.stringify(md)).not.toContain('oneshot-build-local');
  });

  test('a failing test pushes nothing, fails the step with one line, and the layer cache is still saved', async () => {
    const repo = uniqueRepo('failing');
    const r = await runAction({
      workspace: ws,
      cache,
      inputs: { images: repo, 'build-contexts': 'extra=extra', 'build-args': nonce(), 'test-run': 'echo "TEST-OUTPUT-$(echo here)"\nexit 3' },
    });
    expect(r.main.exitCode).not.toBe(0);
    expect(r.log).toContain('TEST-OUTPUT-here');
    expect(r.log).toContain('test-run: the commands failed with exit code 3; nothing was pushed or exported');
    expect(await registryTags(repo)).toEqual([]);
    expect(r.main.summary).toMatch(/\| Test \(test-run\) \| failed with exit code 3/);
    expect(r.log).toMatch(/Layer cache: saved obc1-idx-/);
  });
});

describe('ssh', () => {
  test('ssh: default forwards the local ssh-agent to RUN --mount=type=ssh', async () => {
    const dir = await tempDir('ssh');
    const sock = path.join(dir, 'agent.sock');
    const agent = spawnSync('ssh-agent', ['-a', sock], { encoding: 'utf8' });
    expect(agent.status).toBe(0);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
      execFileSync('ssh-add', [path.join(dir, 'key')], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const r = await runAction({
        workspace: ws,
        cache,
        env: { SSH_AUTH_SOCK: sock },
        inputs: { push: 'false', target: 'ssh', ssh: 'default', 'build-args': nonce() },
      });
      expectExit0(r);
      expect(r.log).toContain('ssh-agent-socket-ok');
    } finally {
      if (pid) process.kill(Number(pid));
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('call: check', () => {
  // a: buildx 0.13 has no --call; c: buildx has it, but the builder's BuildKit 0.13.2 has no checks
  // (and the frontend that has them is on Docker Hub, out of reach here); b: the checks run.
  test('build checks run and their warnings fail the step, or an old buildx or BuildKit is refused clearly', async () => {
    const r = await runAction({ workspace: ws, cache, inputs: { images: uniqueRepo('check'), call: 'check', file: 'Dockerfile.check' } });
    expect(r.main.exitCode).not.toBe(0);
    expect(r.log).not.toContain('[group] Push');
    expect(r.log).toContain('Layer cache will not be saved (call: check builds no layers to save)');
    if (!hasBuildxCall()) {
      expect(r.log).toMatch(/call: buildx \S+ has no --call \(build checks need buildx 0\.15 or later\)/);
      expect(r.log).not.toMatch(/^\[group\] Build( \(call|$)/m);
    } else if (TOOLCHAIN.name === 'c') {
      expect(r.log).toMatch(/call: check: the builder's BuildKit \S+ has no build checks \(unsupported request frontend\.lint\)/);
    } else {
      expect(r.log).toContain('StageNameCasing');
      expect(r.log).toMatch(/call: check: Check complete, \d+ warnings? ha(s|ve) been found/);
    }
  });
});

describe('cache-to type=registry, shared by repositories', () => {
  test("another repository's build on a pruned builder, with a fresh Actions cache, gets its layers from the registry cache", async () => {
    const ref = `${REGISTRY}/e2e/shared-cache-${randomBytes(4).toString('hex')}:buildcache`;
    const first = await runAction({
      workspace: ws,
      cache,
      inputs: {
        images: uniqueRepo('producer'),
        'build-contexts': 'extra=extra',
        'build-args': 'NONCE=shared',
        'cache-to': `type=registry,ref=${ref},mode=max`,
      },
    });
    expectExit0(first);
    // The action's own layer cache is saved as before, beside the registry cache.
    expect(first.log).toMatch(/Layer cache: saved obc1-idx-/);
    expect(await registryDigest(ref.slice(0, ref.lastIndexOf(':')), 'buildcache')).toMatch(/^sha256:/);

    pruneBuilder();
    const other = await startCache();
    try {
      const second = await runAction({
        workspace: await workspaceFrom('build-inputs'),
        cache: other,
        inputs: { images: uniqueRepo('consumer'), 'build-contexts': 'extra=extra', 'build-args': 'NONCE=shared', 'cache-from': `type=registry,ref=${ref}` },
      });
      expectExit0(second);
      expect(second.outputs['cache-hit']).toBe('miss');
      expect(stepCached(second.log, 'dd if=/dev/urandom')).toBe(true);
      expect(second.log).not.toContain('EXPENSIVE-STEP-RAN');
    } finally {
      await other.close();
    }
  });
});
