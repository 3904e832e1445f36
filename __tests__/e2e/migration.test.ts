// Migration through the bundled action: steps pasted from the five-action setup. Full image
// references in `tags` pushed as written; `registry-auth` pasted from a login-action step (YAML with
// quotes and comments), with an `ecr: true` entry whose password comes from an AWS CLI stand-in;
// sep-* and DOCKER_METADATA_OUTPUT_* in a dry run; inputs this action lacks named in one line.
import { jest } from '@jest/globals';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { runAction, tempDir, uniqueRepo, registryTags, DEFAULT_PAYLOAD, expectExit0 } from './harness.js';
import { startAuthRegistry, stopAuthRegistries, tagsOn } from './helpers/auth-registry.js';
import type { AuthRegistry } from './helpers/auth-registry.js';
import type { JobResult } from '../../scripts/lib/runner.mjs';

jest.setTimeout(5 * 60 * 1000);

const errorsOf = (r: JobResult) => r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message);
const warningsOf = (r: JobResult) => r.main.annotations.filter((a) => a.level === 'warning').map((a) => a.message);

async function project(dockerfile: string): Promise<string> {
  const ws = await tempDir('ws');
  await fs.writeFile(path.join(ws, 'Dockerfile'), dockerfile);
  return ws;
}

describe('metadata outputs in a dry run', () => {
  test('sep-tags and sep-labels join the outputs; tag-names; the DOCKER_METADATA_OUTPUT_* variables for later steps', async () => {
    const r = await runAction({
      workspace: await tempDir('meta'),
      inputs: { images: 'ghcr.io/acme/app', tags: 'type=ref,event=branch\ntype=sha', 'sep-tags': ',', 'sep-labels': ';', 'dry-run': 'true', cache: 'false' },
      sha: '860c1904a1ce19322e91ac35af1ab07466440c37',
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.outputs.tags).toBe('ghcr.io/acme/app:main,ghcr.io/acme/app:sha-860c190');
    expect(r.outputs['tag-names']).toBe('main,sha-860c190');
    expect(r.outputs.labels.split(';')).toContain('org.opencontainers.image.version=main');
    expect(r.main.envFile).toEqual({
      DOCKER_METADATA_OUTPUT_VERSION: 'main',
      DOCKER_METADATA_OUTPUT_TAGS: r.outputs.tags,
      DOCKER_METADATA_OUTPUT_TAG_NAMES: 'main,sha-860c190',
      DOCKER_METADATA_OUTPUT_LABELS: r.outputs.labels,
      DOCKER_METADATA_OUTPUT_ANNOTATIONS: r.outputs.annotations,
      DOCKER_METADATA_OUTPUT_JSON: r.outputs.json,
    });
  });

  test('DOCKER_METADATA_SET_OUTPUT_ENV=false: outputs only', async () => {
    const r = await runAction({
      workspace: await tempDir('meta'),
      inputs: { images: 'ghcr.io/acme/app', 'dry-run': 'true' },
      env: { DOCKER_METADATA_SET_OUTPUT_ENV: 'false' },
    });
    expectExit0(r);
    expect(r.main.envFile).toEqual({});
    expect(r.outputs['tag-names']).toBe('main');
  });

  test('metadata-context: git tags from the checkout (a detached tag), not the workflow ref', async () => {
    const ws = await tempDir('git');
    const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...a], { cwd: ws, stdio: 'pipe' });
    g('init', '-q');
    g('commit', '-q', '--allow-empty', '-m', 'x');
    g('tag', 'v3.1.4');
    g('checkout', '-q', '--detach', 'v3.1.4');
    const sha = g('rev-parse', 'HEAD').toString().trim();
    const r = await runAction({
      workspace: ws,
      inputs: { images: 'ghcr.io/acme/app', 'metadata-context': 'git', tags: 'type=semver,pattern={{version}}\ntype=sha,format=long', 'dry-run': 'true' },
      ref: 'refs/heads/main',
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.outputs['tag-names'].split('\n')).toEqual(['3.1.4', `sha-${sha}`, 'latest']);
  });

  test('no event payload and no ref: a push is refused before any work, naming tags', async () => {
    const r = await runAction({ workspace: await tempDir('meta'), inputs: { images: 'user/app', 'dry-run': 'true' }, ref: '', payload: {} });
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([expect.stringMatching(/^tags: no tag for this run \(event "push", ref ""\): no rule produced one/)]);
  });

  test('inputs of the other actions: logout: false fails in one line naming it; cleanup: true is a warning of its own', async () => {
    const bad = await runAction({ workspace: await tempDir('meta'), inputs: { images: 'user/app', 'dry-run': 'true', logout: 'false' } });
    expect(bad.main.exitCode).toBe(1);
    expect(errorsOf(bad)).toEqual([expect.stringMatching(/^logout: docker\/login-action's input is not one of this action's: the post step always logs out/)]);
    const ok = await runAction({ workspace: await tempDir('meta'), inputs: { images: 'user/app', 'dry-run': 'true', cleanup: 'true' } });
    expectExit0(ok);
    expect(warningsOf(ok)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^cleanup: docker\/setup-buildx-action's input is not one of this action's: write keep-builder: true/)]),
    );
  });
});

describe('full image references in tags, as build-push-action takes them', () => {
  test('pushed as written, with no images input', async () => {
    const repo = uniqueRepo('literal');
    const r = await runAction({
      workspace: await project('FROM busybox\nRUN echo literal-tags > /t\n'),
      inputs: { tags: `${repo}:1.0\n${repo}:stable`, cache: 'false' },
      payload: DEFAULT_PAYLOAD,
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.outputs.tags.split('\n')).toEqual([`${repo}:1.0`, `${repo}:stable`]);
    expect(r.outputs.version).toBe('1.0');
    expect(await registryTags(repo)).toEqual(['1.0', 'stable']);
  });

  test('an upper-case reference fails before any work, saying what to write', async () => {
    const r = await runAction({ workspace: await project('FROM busybox\n'), inputs: { tags: 'ghcr.io/Acme/App:1.0', cache: 'false' } });
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([
      'tags: image name "ghcr.io/Acme/App" in "ghcr.io/Acme/App:1.0" has upper-case letters (Docker refuses them: write "ghcr.io/acme/app")',
    ]);
    expect(r.main.groups).not.toContain('Docker and buildx');
  });
});

// ------------------------------------------------------------------------------------------------
// registry-auth pasted from a login-action step, against htpasswd registries on loopback ports.

describe('registry-auth pasted from a docker/login-action step', () => {
  let plain: AuthRegistry;
  let ecr: AuthRegistry;
  let fakeAws: string;
  const AWS_KEY = `AKIA${randomBytes(6).toString('hex').toUpperCase()}`;
  const AWS_SECRET = `aws-secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    // A password a line-based look-alike would get wrong: quotes, " #" and ": " inside.
    [plain, ecr] = await Promise.all([
      startAuthRegistry('bob', `p#w: ${randomBytes(6).toString('hex')} "x"`),
      startAuthRegistry('AWS', `ecr-token-${randomBytes(8).toString('hex')}`),
    ]);
    // The AWS CLI stand-in: prints the ECR registry's password when given the keys in its environment.
    fakeAws = await tempDir('aws');
    await fs.writeFile(
      path.join(fakeAws, 'aws'),
      [
        '#!/bin/sh',
        `echo "$*|$AWS_ACCESS_KEY_ID" >> "${fakeAws}/calls"`,
        `[ "$1 $2 $3 $4" = "ecr get-login-password --region eu-west-3" ] || { echo "unexpected: $*" >&2; exit 2; }`,
        `[ "$AWS_ACCESS_KEY_ID" = "${AWS_KEY}" ] && [ "$AWS_SECRET_ACCESS_KEY" = "${AWS_SECRET}" ] || { echo "An error occurred (UnrecognizedClientException)" >&2; exit 255; }`,
        `printf '%s\\n' '${ecr.password}'`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  });
  afterAll(async () => {
    await stopAuthRegistries([plain, ecr]);
  });

  test('YAML with comments and quoted values, and an ecr: true entry: both logins work and both pushes land', async () => {
    const repo = `e2e/paste-${randomBytes(3).toString('hex')}`;
    const registryAuth = [
      '# pasted from the login-action step',
      `- registry: ${plain.host}`,
      `  username: "${plain.user}"`,
      `  password: '${plain.password.replace(/'/g, "''")}'`,
      `- registry: "${ecr.host}"   # an ECR stand-in`,
      '  ecr: true',
      `  username: ${AWS_KEY}`,
      `  password: ${AWS_SECRET}`,
    ].join('\n');
    const r = await runAction({
      workspace: await project('FROM busybox\nRUN echo pasted > /p\n'),
      inputs: { images: `${plain.host}/${repo}\n${ecr.host}/${repo}`, 'registry-auth': registryAuth, cache: 'false' },
      env: { PATH: `${fakeAws}:${process.env.PATH}`, AWS_REGION: 'eu-west-3' },
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.log).toContain(`Logged in to ${plain.host} as bob (registry-auth).`);
    expect(r.log).toContain(`Logged in to ${ecr.host} as AWS (registry-auth, Amazon ECR).`);
    expect(await tagsOn(plain, repo)).toEqual(['main']);
    expect(await tagsOn(ecr, repo)).toEqual(['main']);
    // The keys reached the AWS CLI in its environment, never in its command line.
    const calls = readFileSync(path.join(fakeAws, 'calls'), 'utf8').trim().split('\n');
    expect(calls).toEqual([`ecr get-login-password --region eu-west-3|${AWS_KEY}`]);
    for (const secret of [plain.password, ecr.password, AWS_SECRET]) {
      expect(r.log).not.toContain(secret);
      expect(JSON.stringify(r.outputs)).not.toContain(secret);
    }
    expectExit0(r, 'post');
  });

  test('scope: the login is kept where buildx reads scoped credentials, inside the private config post deletes', async () => {
    let seen: { scoped: string; main: string } | undefined;
    const r = await runAction({
      workspace: await project('FROM busybox\n'),
      inputs: {
        images: `${plain.host}/e2e/scoped`,
        registry: plain.host,
        username: plain.user,
        password: plain.password,
        scope: 'e2e/scoped@push',
        push: 'false',
        cache: 'false',
      },
      afterEntry: async (step) => {
        if (step.entry !== 'main') return;
        const cfg = JSON.parse(step.state.obc ?? '{}').dockerConfig as string;
        seen = {
          scoped: await fs.readFile(path.join(cfg, 'buildx', 'config', plain.host, 'e2e', 'scoped@push', 'config.json'), 'utf8').catch(() => ''),
          main: await fs.readFile(path.join(cfg, 'config.json'), 'utf8').catch(() => ''),
        };
      },
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.log).toContain(`Logged in to ${plain.host} (scope e2e/scoped@push) as bob (registry).`);
    expect(Object.keys(JSON.parse(seen!.scoped).auths ?? {})).toEqual([plain.host]);
    expect(seen!.main).not.toContain(plain.host);
    expectExit0(r, 'post');
  });

  test('a YAML error names line and column, never the text', async () => {
    const r = await runAction({
      workspace: await project('FROM busybox\n'),
      inputs: {
        images: `${plain.host}/e2e/never`,
        'registry-auth': `- registry: ${plain.host}\n  username: bob\n  password: ${plain.password}`,
        cache: 'false',
      },
    });
    expect(r.main.exitCode).toBe(1);
    expect(errorsOf(r)).toEqual([
      expect.stringMatching(/^registry-auth: not valid YAML at line 3, column \d+: .* \(the text is not shown: it may hold a password\)$/),
    ]);
    expect(r.log).not.toContain(plain.password);
  });
});
