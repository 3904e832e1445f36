// How the layer cache reaches the builder: lazy or eager (and why), read-only on a builder that
// cannot export, and the cache form offered to each BuildKit; the provenance default per builder.
import { cacheFormFor, effectiveBuildkitVersion, planCacheAccess, CLASSIC_DOCKER_NO_CACHE } from '../../src/cache/access.js';
import { builderDriverOpts, driverOptValue } from '../../src/docker/builder.js';
import type { BuilderFacts, CacheAccess, FetchMode } from '../../src/cache/access.js';
import { attestationsFor } from '../../src/plan.js';

const b = (over: Partial<BuilderFacts>): BuilderFacts => ({ driver: 'docker', containerdStore: true, hostNetwork: false, buildkitVersion: 'v0.25.2', ...over });
const REMOTE_AUTO = "a remote builder may not reach this runner's loopback; set cache-fetch: lazy when its BuildKit runs on this runner";
const CONTAINER_NET =
  "the builder's container does not share the runner's network (driver-opts sets another network than host), so its BuildKit cannot reach the loopback registry";

describe('planCacheAccess', () => {
  test.each<[string, FetchMode, Partial<BuilderFacts>, CacheAccess]>([
    ['docker driver, containerd store, BuildKit 0.25', 'auto', {}, { lazy: true, form: 'manifest' }],
    ['docker driver, containerd store, BuildKit 0.13', 'auto', { buildkitVersion: 'v0.13.2' }, { lazy: true, form: 'index' }],
    [
      'docker driver on a classic store: no layer cache',
      'auto',
      { containerdStore: false, buildkitVersion: '0.20.0' },
      { lazy: true, off: CLASSIC_DOCKER_NO_CACHE, form: 'index' },
    ],
    ['eager asked for', 'eager', {}, { lazy: false, eagerReason: 'cache-fetch: eager', form: 'manifest' }],
    [
      'docker-container on the host network (as the action creates it)',
      'auto',
      { driver: 'docker-container', containerdStore: false, hostNetwork: true, buildkitVersion: 'v0.21.0' },
      { lazy: true, form: 'manifest' },
    ],
    [
      'docker-container on its own network',
      'auto',
      { driver: 'docker-container', containerdStore: false },
      { lazy: false, eagerReason: CONTAINER_NET, form: 'manifest' },
    ],
    [
      'docker-container on its own network, lazy asked for',
      'lazy',
      { driver: 'docker-container' },
      { lazy: false, eagerReason: CONTAINER_NET, form: 'manifest' },
    ],
    ['remote, auto', 'auto', { driver: 'remote', buildkitVersion: 'v0.13.2' }, { lazy: false, eagerReason: REMOTE_AUTO, form: 'index' }],
    ['remote, lazy asked for', 'lazy', { driver: 'remote', buildkitVersion: 'v0.13.2' }, { lazy: true, form: 'index' }],
    [
      'kubernetes, lazy asked for',
      'lazy',
      { driver: 'kubernetes', buildkitVersion: '' },
      { lazy: false, eagerReason: "the kubernetes driver's BuildKit cannot reach this runner's loopback registry", form: 'index' },
    ],
  ])('%s', (_n, mode, facts, access) => {
    expect(planCacheAccess(mode, b(facts))).toEqual(access);
  });
});

test.each<[string, 'index' | 'manifest']>([
  ['v0.25.2', 'manifest'],
  ['v0.21.0', 'manifest'],
  ['0.21.0-rc1', 'manifest'],
  ['v0.20.2', 'index'],
  ['v0.13.2+ds1', 'index'],
  ['', 'index'],
  ['unknown', 'index'],
])('cacheFormFor(%j) is %s', (v, form) => expect(cacheFormFor(v)).toBe(form));

describe('driver options of a builder the action creates', () => {
  test.each<[string[], string[]]>([
    [[], ['network=host']],
    [['image=x'], ['image=x', 'network=host']],
    [['network=bridge'], ['network=bridge']],
    [['image=x,network=host'], ['image=x,network=host']],
  ])('%j', (opts, out) => expect(builderDriverOpts(opts)).toEqual(out));

  test.each<[string[], string | undefined]>([
    [[], undefined],
    [['network=host'], 'host'],
    [['image=x,network=ci-net'], 'ci-net'],
    [['"network=host"', 'network=none'], 'none'],
  ])('driverOptValue(%j, network)', (opts, n) => expect(driverOptValue(opts, 'network')).toBe(n));
});

describe('attestationsFor', () => {
  const NOTE = 'No provenance attestation: the docker driver of a daemon without the containerd image store cannot add attestations.';
  test.each<[string, { provenance: string; sbom: string }, { driver: string; containerdStore: boolean }, ReturnType<typeof attestationsFor>]>([
    ['default, containerd store', { provenance: '', sbom: '' }, { driver: 'docker', containerdStore: true }, { provenance: 'mode=min', sbom: '' }],
    ['default, docker-container', { provenance: '', sbom: '' }, { driver: 'docker-container', containerdStore: false }, { provenance: 'mode=min', sbom: '' }],
    [
      'user value kept',
      { provenance: 'mode=max', sbom: 'true' },
      { driver: 'docker-container', containerdStore: false },
      { provenance: 'mode=max', sbom: 'true' },
    ],
    [
      'default on the classic docker driver: dropped with a note',
      { provenance: '', sbom: '' },
      { driver: 'docker', containerdStore: false },
      { provenance: 'false', sbom: '', note: NOTE },
    ],
    [
      'false on the classic docker driver',
      { provenance: 'false', sbom: 'false' },
      { driver: 'docker', containerdStore: false },
      { provenance: 'false', sbom: 'false' },
    ],
  ])('%s', (_n, a, builder, out) => expect(attestationsFor(a, builder)).toEqual(out));

  test.each<[{ provenance: string; sbom: string }, string]>([
    [
      { provenance: 'mode=max', sbom: '' },
      'provenance: the docker driver of a daemon without the containerd image store cannot add attestations; set provenance: false, or use driver: docker-container',
    ],
    [
      { provenance: '', sbom: 'true' },
      'sbom: the docker driver of a daemon without the containerd image store cannot add attestations; set sbom: false, or use driver: docker-container',
    ],
  ])('asked for on the classic docker driver: %j', (a, message) => {
    expect(() => attestationsFor(a, { driver: 'docker', containerdStore: false })).toThrow(message);
  });
});

test.each<[string, string, string, string]>([
  ['docker', 'v0.25.2', '28.5.2', 'v0.25.2'],
  ['docker', 'v0.0.0+unknown', '28.5.2+dfsg1', '0.21.0'],
  ['docker', 'v0.0.0+unknown', '26.1.5+dfsg1', ''],
  ['docker', '', '28.0.4', ''],
  ['docker-container', 'v0.0.0+unknown', '28.5.2', ''],
  ['docker-container', 'v0.13.2', '28.0.4', 'v0.13.2'],
])('effectiveBuildkitVersion(%s, %j, docker %s) is %j', (driver, reported, docker, v) => {
  expect(effectiveBuildkitVersion(driver, reported, docker)).toBe(v);
});
