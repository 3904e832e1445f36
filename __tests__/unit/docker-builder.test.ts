// The builder: input validation, the auto driver choice, the exact `docker buildx create` argv and
// reading `docker buildx inspect`.
import { describe, expect, test } from '@jest/globals';
import {
  DEFAULT_BUILDKIT_IMAGE,
  builderImage,
  createFailure,
  buildxCreateArgv,
  builderName,
  parseBuilderOptions,
  parseInspect,
  resolveDriver,
  type CreatePlan,
  type RawBuilderInputs,
} from '../../src/docker/builder.js';
import { InputError } from '../../src/input-error.js';
import { probeBuildx } from '../../src/docker/docker.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const RAW: RawBuilderInputs = {
  driver: '',
  endpoint: '',
  driverOpts: '',
  buildkitdFlags: '',
  buildkitdConfig: '',
  buildkitdConfigInline: '',
  builderPlatforms: '',
  keepBuilder: '',
};

function opts(r: Partial<RawBuilderInputs>) {
  return parseBuilderOptions({ ...RAW, ...r });
}

function errorOf(r: Partial<RawBuilderInputs>): string {
  try {
    opts(r);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

const PLAN: CreatePlan = {
  name: 'obc-42-abc123',
  driver: 'docker-container',
  endpoint: '',
  driverOpts: [],
  buildkitdFlags: '',
  buildkitdConfigFile: '',
  platforms: [],
  buildxVersion: 'v0.19.3',
};

describe('buildx create argv for drivers that need images or clusters this machine cannot reach (docker-container: moby/buildkit image, remote: a BuildKit daemon, kubernetes: a cluster)', () => {
  test.each<[string, Partial<CreatePlan>, string[]]>([
    ['docker-container, no options', {}, ['buildx', 'create', '--name', 'obc-42-abc123', '--driver', 'docker-container', '--bootstrap']],
    [
      'docker-container with every option',
      {
        driverOpts: ['image=moby/buildkit:v0.16.0', 'network=host,env.BUILDKIT_STEP_LOG_MAX_SIZE=10485760'],
        buildkitdFlags: '--allow-insecure-entitlement security.insecure --debug',
        buildkitdConfigFile: '/tmp/rt/obc-docker-1/buildkitd.toml',
        platforms: ['linux/amd64', 'linux/arm64'],
      },
      [
        'buildx',
        'create',
        '--name',
        'obc-42-abc123',
        '--driver',
        'docker-container',
        '--driver-opt',
        'image=moby/buildkit:v0.16.0',
        '--driver-opt',
        'network=host,env.BUILDKIT_STEP_LOG_MAX_SIZE=10485760',
        '--buildkitd-flags',
        '--allow-insecure-entitlement security.insecure --debug',
        '--buildkitd-config',
        '/tmp/rt/obc-docker-1/buildkitd.toml',
        '--platform',
        'linux/amd64,linux/arm64',
        '--bootstrap',
      ],
    ],
    [
      'docker-container on a Docker context endpoint',
      { endpoint: 'remote-docker' },
      ['buildx', 'create', '--name', 'obc-42-abc123', '--driver', 'docker-container', '--bootstrap', 'remote-docker'],
    ],
    [
      'docker-container with buildx older than 0.13 spells the config flag --config',
      { buildkitdConfigFile: '/c/buildkitd.toml', buildxVersion: '0.12.1+ds1' },
      ['buildx', 'create', '--name', 'obc-42-abc123', '--driver', 'docker-container', '--config', '/c/buildkitd.toml', '--bootstrap'],
    ],
    [
      'remote with TLS driver options, the endpoint last',
      {
        driver: 'remote',
        endpoint: 'tcp://buildkitd.internal:1234',
        driverOpts: ['cacert=/certs/ca.pem', 'cert=/certs/cert.pem', 'key=/certs/key.pem', 'servername=buildkitd.internal'],
      },
      [
        'buildx',
        'create',
        '--name',
        'obc-42-abc123',
        '--driver',
        'remote',
        '--driver-opt',
        'cacert=/certs/ca.pem',
        '--driver-opt',
        'cert=/certs/cert.pem',
        '--driver-opt',
        'key=/certs/key.pem',
        '--driver-opt',
        'servername=buildkitd.internal',
        '--bootstrap',
        'tcp://buildkitd.internal:1234',
      ],
    ],
    [
      'kubernetes with namespace, replicas and node platforms',
      { driver: 'kubernetes', driverOpts: ['namespace=ci', 'replicas=2,rootless=true'], platforms: ['linux/amd64'] },
      [
        'buildx',
        'create',
        '--name',
        'obc-42-abc123',
        '--driver',
        'kubernetes',
        '--driver-opt',
        'namespace=ci',
        '--driver-opt',
        'replicas=2,rootless=true',
        '--platform',
        'linux/amd64',
        '--bootstrap',
      ],
    ],
  ])('%s', (_name, over, argv) => {
    expect(buildxCreateArgv({ ...PLAN, ...over })).toEqual(argv);
  });
});

describe('the auto driver', () => {
  test.each<[string, Partial<RawBuilderInputs>, boolean, string, boolean?]>([
    ["containerd image store: the daemon's own BuildKit", {}, true, 'docker'],
    ["classic image store with cache: false: the daemon's own BuildKit, no container needed", {}, false, 'docker', false],
    ['classic image store, cache: false, but driver-opts set', { driverOpts: 'image=x' }, false, 'docker-container', false],
    ['classic image store: a docker-container builder', {}, false, 'docker-container'],
    ['containerd store but driver-opts set: a builder of its own', { driverOpts: 'network=host' }, true, 'docker-container'],
    ['containerd store but builder-platforms set', { builderPlatforms: 'linux/amd64' }, true, 'docker-container'],
    ['containerd store but buildkitd-config-inline set', { buildkitdConfigInline: 'debug = true' }, true, 'docker-container'],
    ['explicit docker-container', { driver: 'docker-container' }, true, 'docker-container'],
    ['explicit docker on a classic store (the cache check happens later)', { driver: 'docker' }, false, 'docker'],
    ['explicit kubernetes', { driver: 'Kubernetes' }, true, 'kubernetes'],
    ['explicit remote', { driver: 'remote', endpoint: 'tcp://b:1234' }, true, 'remote'],
  ])('%s', (_name, raw, containerd, driver, cache = true) => {
    expect(resolveDriver(opts(raw), containerd, cache).driver).toBe(driver);
  });
});

describe('builder inputs that cannot be used fail with one line naming the input', () => {
  test.each<[Partial<RawBuilderInputs>, string]>([
    [{ driver: 'podman' }, 'driver: expected one of auto, docker, docker-container, remote, kubernetes, got "podman"'],
    [{ driver: 'remote' }, 'endpoint: the remote driver needs the BuildKit daemon address, e.g. tcp://buildkitd:1234'],
    [
      { driver: 'docker', driverOpts: 'image=x' },
      "driver-opts: the docker driver uses the daemon's built-in BuildKit and takes no builder options; use driver: docker-container",
    ],
    [
      { driver: 'docker', builderPlatforms: 'linux/arm64' },
      "builder-platforms: the docker driver uses the daemon's built-in BuildKit and takes no builder options; use driver: docker-container",
    ],
    [
      { driver: 'remote', endpoint: 'tcp://b:1', buildkitdFlags: '--debug' },
      'buildkitd-flags: the remote driver connects to a BuildKit daemon that is already configured; this option cannot apply to it',
    ],
    [{ driverOpts: 'image=x\nnetwork' }, 'driver-opts: expected key=value, got "network"'],
    [{ builderPlatforms: 'linux/amd64,arm64' }, 'builder-platforms: expected os/arch[/variant], got "arm64"'],
    [{ keepBuilder: 'yes' }, 'keep-builder: expected true or false, got "yes"'],
    [
      { buildkitdConfig: 'b.toml', buildkitdConfigInline: 'debug = true' },
      'buildkitd-config-inline: give either buildkitd-config (a file) or buildkitd-config-inline, not both',
    ],
  ])('%j', (raw, message) => {
    expect(errorOf(raw)).toBe(message);
  });

  test('defaults: auto, nothing set, builder removed in post', () => {
    expect(opts({})).toEqual({
      driver: 'auto',
      endpoint: '',
      driverOpts: [],
      buildkitdFlags: '',
      buildkitdConfig: '',
      buildkitdConfigInline: '',
      platforms: [],
      keep: false,
    });
    expect(opts({ keepBuilder: 'true', driverOpts: '# comment\nimage=a\n\n network=host ' }).driverOpts).toEqual(['image=a', 'network=host']);
  });
});

describe('buildx inspect and version output', () => {
  test('docker driver on this daemon', () => {
    const text = [
      'Name:          default',
      'Driver:        docker',
      'Last Activity: 2026-11-26 16:46:56 +0000 UTC',
      '',
      'Nodes:',
      'Name:             default',
      'Endpoint:         default',
      'Status:           running',
      'BuildKit version: v0.0.0+unknown',
      'Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/amd64/v4',
      'Labels:',
      ' org.mobyproject.buildkit.worker.executor:             containerd',
    ].join('\n');
    expect(parseInspect(text)).toEqual({
      driver: 'docker',
      buildkitVersion: 'v0.0.0+unknown',
      status: 'running',
      platforms: ['linux/amd64', 'linux/amd64/v2', 'linux/amd64/v3', 'linux/amd64/v4'],
    });
  });

  test('two nodes with configured platforms marked *: their union, unmarked', () => {
    const text = [
      'Name:   obc',
      'Driver: docker-container',
      'Nodes:',
      'Name:      obc0',
      'Status:    running',
      'Buildkit:  v0.11.6',
      'Platforms: linux/amd64*, linux/386',
      'Name:      obc1',
      'Status:    running',
      'Buildkit:  v0.11.6',
      'Platforms: linux/arm64*, linux/amd64',
    ].join('\n');
    const r = parseInspect(text);
    expect(r.platforms).toEqual(['linux/amd64', 'linux/386', 'linux/arm64']);
    expect(r.buildkitVersion).toBe('v0.11.6');
  });

  test.each([
    ['github.com/docker/buildx v0.19.3 48d6a3973d7a49cd4f5bdbde8e2ad1b0a5b72a9d', 'v0.19.3'],
    ['github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3', '0.13.1+ds1'],
  ])('docker buildx version printing %s is version %s', async (text, v) => {
    // A docker CLI of the test's own first on PATH (the runner looks the command up there),
    // printing what `docker buildx version` prints.
    const bin = mkdtempSync(path.join(tmpdir(), 'obc-fake-docker-'));
    writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\nprintf "%s\\n" "$FAKE_BUILDX_VERSION"\n', { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      expect(await probeBuildx({ PATH: process.env.PATH, FAKE_BUILDX_VERSION: text })).toBe(v);
    } finally {
      process.env.PATH = saved;
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('builder names are safe and unique per run', () => {
    expect(builderName('1234', 'a1b2c3')).toBe('obc-1234-a1b2c3');
    expect(builderName('12/34 x', 'a1')).toBe('obc-1234x-a1');
  });
});

describe('a builder that cannot start its BuildKit image says which image and how to choose another', () => {
  test.each<[string, string[], string, string]>([
    [
      'default image, no Docker Hub',
      [],
      'ERROR: Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host',
      'driver: the docker-container builder could not start its BuildKit image moby/buildkit:buildx-stable-1: ERROR: Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host. Choose an image this runner can pull with driver-opts: image=<ref> (for example a copy in your own registry), or give the Docker daemon a registry mirror.',
    ],
    [
      'an image from driver-opts, rate limited',
      ['network=host,image=ghcr.io/acme/buildkit:v1'],
      'ERROR: toomanyrequests: You have reached your pull rate limit.',
      'driver: the docker-container builder could not start its BuildKit image ghcr.io/acme/buildkit:v1: ERROR: toomanyrequests: You have reached your pull rate limit.. Choose an image this runner can pull with driver-opts: image=<ref> (for example a copy in your own registry), or give the Docker daemon a registry mirror.',
    ],
    [
      'another failure of a docker-container builder',
      [],
      'ERROR: invalid memory limit',
      'driver: creating the docker-container builder failed: ERROR: invalid memory limit',
    ],
  ])('%s', (_n, driverOpts, line, message) => {
    expect(createFailure({ driver: 'docker-container', driverOpts }, line)).toBe(message);
  });

  test('a remote builder that cannot connect is not blamed on an image', () => {
    expect(createFailure({ driver: 'remote', driverOpts: [] }, 'ERROR: dial tcp 10.0.0.1:1234: i/o timeout')).toBe(
      'driver: creating the remote builder failed: ERROR: dial tcp 10.0.0.1:1234: i/o timeout',
    );
  });

  test.each<[string[], string]>([
    [[], DEFAULT_BUILDKIT_IMAGE],
    [['image=moby/buildkit:v0.25.2'], 'moby/buildkit:v0.25.2'],
    [['network=host', '"image=reg.example/bk:1"'], 'reg.example/bk:1'],
  ])('builderImage(%j)', (o, image) => expect(builderImage(o)).toBe(image));
});
