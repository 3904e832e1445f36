// build-push-action's and setup-buildx-action's inputs. Each is read into the typed Inputs
// with a one-line error naming it; each goes into the exact buildx argv; the build mode holds
// everything that leaves until the leak guard and test-run passed.
import { describe, expect, test } from '@jest/globals';
import { readInputs } from '../../src/inputs.js';
import { InputError } from '../../src/input-error.js';
import { planRun, decide } from '../../src/plan.js';
import { buildxArgv } from '../../src/docker/argv.js';
import type { BuildPlan } from '../../src/docker/argv.js';
import { parseAppend, appendNodeArgv } from '../../src/docker/builder-extra.js';
import { removeBuilderArgv } from '../../src/docker/docker.js';
import { resolveDriver } from '../../src/docker/builder.js';
import { buildMode, publicMetadata } from '../../src/build-mode.js';
import type { ModeFacts } from '../../src/build-mode.js';
import { testEnv, TestFailedError } from '../../src/phases/test-run.js';
import { testLine, renderMainSummary } from '../../src/summary.js';
import { testContext } from './helpers/context.js';

const get = (extra: Record<string, string>) => (n: string) => ({ images: 'x/y', push: 'false', ...extra })[n] ?? '';
const read = (extra: Record<string, string>) => readInputs(get(extra));

function errorOf(extra: Record<string, string>): string {
  try {
    read(extra);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('reading the inputs', () => {
  test('defaults: nothing set, nothing passed', () => {
    const b = read({}).build;
    expect(b).toEqual({
      load: false,
      outputs: [],
      pull: false,
      noCache: false,
      noCacheFilters: [],
      buildContexts: [],
      ssh: [],
      network: '',
      addHosts: [],
      shmSize: '',
      ulimits: [],
      allow: [],
      cgroupParent: '',
      call: '',
      cacheFrom: [],
      cacheTo: [],
      testRun: '',
    });
    expect(read({}).builderExtra).toEqual({ existing: '', name: '', append: [], keepState: false });
  });

  test('every input, in the shapes build-push-action takes', () => {
    const b = read({
      load: 'true',
      outputs: 'type=local,dest=out\ntype=tar,dest=img.tar',
      pull: 'TRUE',
      'no-cache': 'true',
      'no-cache-filters': 'deps, build',
      'build-contexts': 'extra=./extra\nbase=docker-image://alpine:3.20',
      ssh: 'default\nkey=/home/u/.ssh/id_ed25519',
      network: 'host',
      'add-hosts': 'db=10.0.0.2,cache:10.0.0.3',
      'shm-size': '2g',
      ulimit: 'nofile=1024:2048',
      allow: 'network.host\nsecurity.insecure',
      'cgroup-parent': 'ci.slice',
      'cache-from': 'type=registry,ref=r.example/app:cache\nr.example/app:latest',
      'cache-to': 'type=registry,ref=r.example/app:cache,mode=max',
    });
    expect(b.build).toMatchObject({
      load: true,
      outputs: ['type=local,dest=out', 'type=tar,dest=img.tar'],
      pull: true,
      noCache: true,
      noCacheFilters: ['deps', 'build'],
      buildContexts: ['extra=./extra', 'base=docker-image://alpine:3.20'],
      ssh: ['default', 'key=/home/u/.ssh/id_ed25519'],
      network: 'host',
      addHosts: ['db=10.0.0.2', 'cache:10.0.0.3'],
      shmSize: '2g',
      ulimits: ['nofile=1024:2048'],
      allow: ['network.host', 'security.insecure'],
      cgroupParent: 'ci.slice',
      cacheFrom: ['type=registry,ref=r.example/app:cache', 'r.example/app:latest'],
      cacheTo: ['type=registry,ref=r.example/app:cache,mode=max'],
    });
  });

  test('call: build is a normal build; a method with options is kept as given', () => {
    expect(read({ call: 'build' }).build.call).toBe('');
    expect(read({ call: 'check,format=json' }).build.call).toBe('check,format=json');
  });

  test.each<[Record<string, string>, string]>([
    [{ load: 'yes' }, 'load: expected true or false, got "yes"'],
    [{ pull: '1' }, 'pull: expected true or false, got "1"'],
    [{ 'no-cache': 'on' }, 'no-cache: expected true or false, got "on"'],
    [{ outputs: 'dest=out' }, 'outputs: expected type=<exporter>[,key=value...] or a local path, got "dest=out"'],
    [{ 'build-contexts': 'extra' }, 'build-contexts: expected name=<path, URL, docker-image://ref or target:stage>, got "extra"'],
    [{ ssh: 'default=' }, 'ssh: empty path in "default="'],
    [{ ssh: 'my key' }, 'ssh: expected default, an id, or id=path[,path], got "my key"'],
    [{ network: 'host; rm' }, 'network: expected default, host, none or a network name, got "host; rm"'],
    [{ 'add-hosts': 'db' }, 'add-hosts: expected host=ip (or host:ip), got "db"'],
    [{ 'shm-size': 'big' }, 'shm-size: expected a size such as 2g or 512m, got "big"'],
    [{ ulimit: 'nofile' }, 'ulimit: expected type=soft[:hard] (e.g. nofile=1024:1024), got "nofile"'],
    [
      { ulimit: 'files=1' },
      'ulimit: unknown limit "files" (core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)',
    ],
    [{ allow: 'root' }, 'allow: unknown entitlement "root" (network.host, security.insecure, device)'],
    [{ call: 'lint' }, 'call: expected one of build, check, outline, targets (options after a comma, e.g. check,format=json), got "lint"'],
    [{ 'cache-from': 'ref=a' }, 'cache-from: expected type=<backend>[,key=value...] or an image reference, got "ref=a"'],
    [{ 'cache-to': 'r.example/app:cache' }, 'cache-to: expected type=<backend>[,key=value...], got "r.example/app:cache"'],
    [{ 'no-cache-filters': 'deps,-x' }, 'no-cache-filters: "-x" is not a stage name'],
    [{ call: 'check', 'test-run': 'true' }, 'test-run: call: check evaluates the build and makes no image to test; remove one of the two'],
    [{ call: 'check', load: 'true' }, 'load: call: check evaluates the build and makes no image to load; remove one of the two'],
    [{ call: 'outline', outputs: 'type=local,dest=o' }, 'outputs: call: outline evaluates the build and makes no image to export; remove one of the two'],
    [{ builder: 'my builder' }, 'builder: "my builder" is not a builder name (letters, digits, "-", "_", ".")'],
    [{ builder: 'ci', driver: 'docker-container' }, 'driver: configures a builder the action creates, but builder: ci names an existing one (used as it is)'],
    [{ builder: 'ci', name: 'mine' }, 'name: applies to a builder the action creates, but builder: ci names an existing one'],
    [
      { name: 'mine', driver: 'docker' },
      "name: the docker driver uses the daemon's own builder, which cannot be named or get nodes; use driver: docker-container",
    ],
    [{ 'keep-state': 'maybe' }, 'keep-state: expected true or false, got "maybe"'],
    [{ append: 'name: n2' }, 'append: expected a list of nodes, each starting with "- name: ...", got "name: n2"'],
    [{ append: '- name: n2\n  image: x' }, 'append: expected one of name, endpoint, driver-opts, buildkitd-flags, platforms as key, got "image: x"'],
  ])('%j is refused: %s', (extra, message) => expect(errorOf(extra)).toBe(message));

  test('a long bad value is quoted by a short prefix only', () => {
    const m = errorOf({ 'add-hosts': 'x'.repeat(5000) });
    expect(m.length).toBeLessThan(200);
    expect(m).toMatch(/^add-hosts: expected host=ip \(or host:ip\), got "x+…"$/);
  });
});

describe('append (setup-buildx-action YAML) and the builder commands', () => {
  test('nodes with scalar and list driver-opts, quoted values, default node names', () => {
    const nodes = parseAppend(
      [
        '- name: arm',
        '  endpoint: "tcp://arm-host:1234"',
        '  platforms: linux/arm64,linux/arm/v7',
        '  driver-opts:',
        '    - image=moby/buildkit:v0.16.0',
        "    - 'network=host'",
        '- endpoint: ssh://me@box',
        '  driver-opts: network=host',
        '  buildkitd-flags: --debug',
      ].join('\n'),
    );
    expect(nodes).toEqual([
      {
        name: 'arm',
        endpoint: 'tcp://arm-host:1234',
        platforms: ['linux/arm64', 'linux/arm/v7'],
        driverOpts: ['image=moby/buildkit:v0.16.0', 'network=host'],
        buildkitdFlags: '',
      },
      { name: 'node2', endpoint: 'ssh://me@box', platforms: [], driverOpts: ['network=host'], buildkitdFlags: '--debug' },
    ]);
    expect(appendNodeArgv('obc-1-abc', nodes[0])).toEqual([
      'buildx',
      'create',
      '--name',
      'obc-1-abc',
      '--append',
      '--node',
      'arm',
      '--driver-opt',
      'image=moby/buildkit:v0.16.0',
      '--driver-opt',
      'network=host',
      '--platform',
      'linux/arm64,linux/arm/v7',
      'tcp://arm-host:1234',
    ]);
    expect(appendNodeArgv('b', nodes[1])).toEqual([
      'buildx',
      'create',
      '--name',
      'b',
      '--append',
      '--node',
      'node2',
      '--driver-opt',
      'network=host',
      '--buildkitd-flags',
      '--debug',
      'ssh://me@box',
    ]);
  });

  test('keep-state: buildx rm --keep-state', () => {
    expect(removeBuilderArgv('b', false)).toEqual(['buildx', 'rm', '--force', 'b']);
    expect(removeBuilderArgv('b', true)).toEqual(['buildx', 'rm', '--keep-state', '--force', 'b']);
  });

  test('name or append make auto choose a builder of its own', () => {
    const i = read({ name: 'ci-builder' });
    expect(resolveDriver(i.builder, true, true, true)).toEqual({ driver: 'docker-container', reason: 'auto: name or append asks for a builder of its own' });
    expect(resolveDriver(i.builder, true, true, false).driver).toBe('docker');
  });
});

const PLAN: BuildPlan = {
  builder: 'b',
  context: '.',
  file: 'Dockerfile',
  target: '',
  platforms: [],
  buildArgs: [],
  secretSpecs: [],
  tags: ['r/app:1'],
  labels: [],
  annotations: [],
  push: false,
  load: false,
  provenance: 'mode=min',
  sbom: '',
  metadataFile: '/t/md.json',
};
const HEAD = ['buildx', 'build', '--builder', 'b', '--file', 'Dockerfile', '--progress', 'plain', '--tag', 'r/app:1'];
const TAIL = ['--metadata-file', '/t/md.json', '.'];

describe('buildx argv: each option exactly', () => {
  test.each<[string, Partial<BuildPlan>, string[]]>([
    ['pull', { flags: { pull: true } }, ['--pull', '--provenance=mode=min']],
    ['no-cache', { flags: { noCache: true } }, ['--no-cache', '--provenance=mode=min']],
    [
      'no-cache-filters',
      { flags: { noCacheFilters: ['deps', 'build'] } },
      ['--no-cache-filter', 'deps', '--no-cache-filter', 'build', '--provenance=mode=min'],
    ],
    [
      'build-contexts',
      { flags: { buildContexts: ['extra=./extra', 'base=docker-image://alpine'] } },
      ['--build-context', 'extra=./extra', '--build-context', 'base=docker-image://alpine', '--provenance=mode=min'],
    ],
    ['ssh', { flags: { ssh: ['default', 'key=/k'] } }, ['--ssh', 'default', '--ssh', 'key=/k', '--provenance=mode=min']],
    ['network', { flags: { network: 'host' } }, ['--network', 'host', '--provenance=mode=min']],
    ['add-hosts', { flags: { addHosts: ['db=10.0.0.2'] } }, ['--add-host', 'db=10.0.0.2', '--provenance=mode=min']],
    ['shm-size', { flags: { shmSize: '2g' } }, ['--shm-size', '2g', '--provenance=mode=min']],
    ['ulimit', { flags: { ulimits: ['nofile=1024:2048', 'nproc=64'] } }, ['--ulimit', 'nofile=1024:2048', '--ulimit', 'nproc=64', '--provenance=mode=min']],
    ['allow', { flags: { allow: ['network.host'] } }, ['--allow', 'network.host', '--provenance=mode=min']],
    ['cgroup-parent', { flags: { cgroupParent: 'ci.slice' } }, ['--cgroup-parent', 'ci.slice', '--provenance=mode=min']],
    ['call: no attestations asked of an evaluation', { flags: { call: 'check' } }, ['--call', 'check']],
    ['load', { load: true }, ['--provenance=mode=min', '--load']],
    ['push and load together', { push: true, load: true }, ['--provenance=mode=min', '--push', '--load']],
    [
      'outputs',
      { outputs: ['type=local,dest=out', 'type=tar,dest=i.tar'] },
      ['--provenance=mode=min', '--output', 'type=local,dest=out', '--output', 'type=tar,dest=i.tar'],
    ],
    [
      "extra cache entries beside the action's own",
      {
        cacheFrom: 'type=local,src=/c/in',
        cacheTo: 'type=local,dest=/c/out,mode=max,ignore-error=true',
        extraCacheFrom: ['type=registry,ref=r/app:cache'],
        extraCacheTo: ['type=registry,ref=r/app:cache,mode=max'],
      },
      [
        '--cache-from',
        'type=local,src=/c/in',
        '--cache-from',
        'type=registry,ref=r/app:cache',
        '--cache-to',
        'type=local,dest=/c/out,mode=max,ignore-error=true',
        '--cache-to',
        'type=registry,ref=r/app:cache,mode=max',
        '--provenance=mode=min',
      ],
    ],
  ])('%s', (_n, over, middle) => expect(buildxArgv({ ...PLAN, ...over })).toEqual([...HEAD, ...middle, ...TAIL]));

  test('planRun puts every build input into the plan, secrets by id only', () => {
    const p = planRun(
      read({
        images: 'r/app',
        pull: 'true',
        ssh: 'default',
        'cache-from': 'r/app:cache',
        'cache-to': 'type=inline',
        outputs: 'type=local,dest=o',
        load: 'true',
        secrets: 'tok=VALUE-1234567',
      }),
      testContext(),
      {},
    );
    const argv = buildxArgv(p.build);
    expect(argv).toEqual(
      expect.arrayContaining([
        '--pull',
        '--ssh',
        'default',
        '--cache-from',
        'r/app:cache',
        '--cache-to',
        'type=inline',
        '--output',
        'type=local,dest=o',
        '--load',
      ]),
    );
    expect(argv.join(' ')).not.toContain('VALUE-1234567');
    // The action's own layer cache export is still there beside the extra one.
    expect(argv.filter((a) => a.startsWith('type=local,dest=') && a.includes('mode=max'))).toHaveLength(1);
  });
});

describe('call, push and the layer cache', () => {
  test('call: check pushes nothing and saves no cache (nothing is built), with the reason', () => {
    const i = read({ images: 'r/app', push: 'true', call: 'check' });
    expect(decide(i, testContext(), ['r/app'])).toMatchObject({
      push: false,
      pushReason: 'call: check evaluates the build and makes no image',
      saveCache: false,
      saveReason: 'call: check builds no layers to save',
    });
    const p = planRun(i, testContext(), {});
    expect(p.build.cacheTo).toBeUndefined();
    expect(buildxArgv(p.build)).not.toContain('--push');
  });
  test('no-cache still saves the layer cache', () => {
    const i = read({ images: 'r/app', push: 'true', 'no-cache': 'true' });
    expect(decide(i, testContext(), ['r/app'])).toMatchObject({ saveCache: true });
    expect(planRun(i, testContext(), {}).build.cacheTo).toMatch(/^type=local,dest=/);
  });
});

describe('build mode: nothing leaves before the leak guard and test-run passed', () => {
  const base: ModeFacts = { guard: true, needles: 0, push: true, tags: 1, cacheSaved: true, driver: 'docker-container' };
  const rows: [string, Partial<ModeFacts>, ReturnType<typeof buildMode>][] = [
    [
      'no secrets, no test: one build with everything',
      { outputs: 1, extraCacheTo: 1, load: true },
      { scan: false, staged: 'no', localName: false, layout: false, deferExports: false },
    ],
    [
      'test-run on docker-container: load, test, then a cached push',
      { test: true },
      { scan: false, staged: 'layout-then-rebuild', localName: false, layout: false, deferExports: false },
    ],
    [
      'test-run with outputs and cache-to: both wait for the test',
      { test: true, outputs: 1, extraCacheTo: 1 },
      { scan: false, staged: 'layout-then-rebuild', localName: false, layout: false, deferExports: true },
    ],
    [
      'secrets, push: false, outputs: the guard checks the image layout before the export',
      { needles: 1, push: false, outputs: 1 },
      { scan: true, staged: 'no', localName: false, layout: true, deferExports: true },
    ],
    [
      'secrets, extra cache-to only, cache not saved: still checked',
      { needles: 1, push: false, cacheSaved: false, extraCacheTo: 1 },
      { scan: true, staged: 'no', localName: false, layout: false, deferExports: true },
    ],
    [
      'secrets, load only: the loaded image is checked',
      { needles: 1, push: false, cacheSaved: false, load: true },
      { scan: true, staged: 'no', localName: false, layout: true, deferExports: false },
    ],
    [
      'docker driver with test-run: its own name, test, tag and push',
      { driver: 'docker', test: true },
      { scan: false, staged: 'load-then-push', localName: true, layout: false, deferExports: false },
    ],
    [
      'docker driver with outputs: they need an invocation of their own',
      { driver: 'docker', outputs: 1 },
      { scan: false, staged: 'load-then-push', localName: true, layout: false, deferExports: true },
    ],
    [
      'docker driver, extra cache-to, nothing to hold: in the build',
      { driver: 'docker', extraCacheTo: 1 },
      { scan: false, staged: 'load-then-push', localName: true, layout: false, deferExports: false },
    ],
    [
      'docker driver, no tags, load: its own name',
      { driver: 'docker', tags: 0, push: false, load: true },
      { scan: false, staged: 'no', localName: true, layout: false, deferExports: false },
    ],
    [
      'classic store, docker-container, load and push: the load has no attestations, a cached push has them',
      { load: true, splitLoad: true },
      { scan: false, staged: 'layout-then-rebuild', localName: false, layout: false, deferExports: false },
    ],
    ['call: nothing of it', { call: true, needles: 2, test: false }, { scan: false, staged: 'no', localName: false, layout: false, deferExports: false }],
  ];
  test.each(rows)('%s', (_n, over, want) => expect(buildMode({ ...base, ...over })).toEqual(want));
});

describe('test-run and the metadata output', () => {
  test("the commands' environment: the image, its ID and the tags", () => {
    expect(testEnv({ PATH: '/bin', DOCKER_CONFIG: '/d' }, 'oneshot-build-local/ab:build', 'sha256:1', ['r/app:1', 'r/app:latest'])).toEqual({
      PATH: '/bin',
      DOCKER_CONFIG: '/d',
      OBC_IMAGE: 'oneshot-build-local/ab:build',
      OBC_IMAGE_ID: 'sha256:1',
      OBC_TAGS: 'r/app:1\nr/app:latest',
    });
  });
  test('a failed test carries the cache export, and says that nothing left', () => {
    const e = new TestFailedError(3, 'sha256:c');
    expect(e.message).toBe('test-run: the commands failed with exit code 3; nothing was pushed or exported');
    expect(e.cacheDigest).toBe('sha256:c');
  });
  test('summary line', () => {
    expect(testLine({ exitCode: 0, ms: 2100 })).toBe('passed in 2.1 s');
    expect(testLine({ exitCode: 2, ms: 500 })).toBe('failed with exit code 2 after 500 ms: nothing pushed or exported');
    expect(renderMainSummary({ tags: [], pushed: false, pushReason: 'push: false', secretIds: [], test: { exitCode: 0, ms: 10 } })).toContain(
      '| Test (test-run) | passed in 10 ms |',
    );
  });
  test("metadata: the name of the run's own is replaced by the tags", () => {
    const local = 'oneshot-build-local/ab:build';
    expect(publicMetadata({ 'image.name': local, 'containerimage.digest': 'sha256:d' }, local, ['r/app:1'])).toEqual({
      'image.name': 'r/app:1',
      'containerimage.digest': 'sha256:d',
    });
    expect(publicMetadata({ 'image.name': local }, local, [])).toEqual({});
    expect(publicMetadata({ 'image.name': `docker.io/${local},r/app:1` }, local, ['r/app:1'])).toEqual({ 'image.name': 'r/app:1' });
    expect(publicMetadata({ 'image.name': 'r/app:1' }, undefined, ['r/app:1'])).toEqual({ 'image.name': 'r/app:1' });
  });
});
