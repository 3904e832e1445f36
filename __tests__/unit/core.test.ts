// The core run(inputs, context, deps) without Docker: a dry run goes through it whole, and every
// output, state update and report part comes out through deps. The build's invocations are
// planned purely (build-mode.ts): exact tables of what the first and the last buildx runs get.
import { describe, expect, test } from '@jest/globals';
import { readInputs } from '../../src/inputs.js';
import { run } from '../../src/core.js';
import type { Deps } from '../../src/core.js';
import { stateKeeper } from '../../src/state.js';
import type { PostState } from '../../src/state.js';
import type { Report } from '../../src/report.js';
import { firstInvocation, lastInvocation, needsLocalName } from '../../src/build-mode.js';
import type { BuildMode, StageFacts } from '../../src/build-mode.js';
import type { BuildPlan } from '../../src/docker/argv.js';
import { testContext } from './helpers/context.js';

function fakeDeps() {
  const outputs: Record<string, string> = {};
  const vars: Record<string, string> = {};
  const saved: PostState[] = [];
  const report: Partial<Report> = {};
  const deps: Deps = {
    setOutput: (n, v) => void (outputs[n] = v),
    exportVariable: (n, v) => void (vars[n] = v),
    keeper: stateKeeper({ version: 1, buildSucceeded: false, loggedIn: [] }, (s) => saved.push(structuredClone(s))),
    note: (p) => void Object.assign(report, p),
  };
  return { deps, outputs, vars, saved, report };
}

const inputs = (over: Record<string, string>) => readInputs((n) => ({ images: 'ghcr.io/acme/app', 'dry-run': 'true', ...over })[n] ?? '');
const rc = { github: testContext({ ref: 'refs/tags/v1.2.3', refName: 'v1.2.3' }), env: {}, cwd: '/w' };

describe('run(inputs, context, deps): a dry run', () => {
  test('sets every output through deps, saves no state and notes the plan in the report', async () => {
    const f = fakeDeps();
    await run(inputs({ tags: 'type=semver,pattern={{version}}', secrets: 'tok=abc' }), rc, f.deps);
    expect(f.outputs.tags).toBe('ghcr.io/acme/app:1.2.3\nghcr.io/acme/app:latest');
    expect(f.outputs['cache-hit']).toBe('miss');
    expect(f.outputs['cache-key']).toBe('obc1-idx-app-083f5e29-tag-v1.2.3-abc123');
    for (const o of ['builder', 'driver', 'platforms', 'buildx-version', 'digest', 'imageid', 'metadata']) expect(f.outputs[o]).toBe('');
    expect(f.vars.DOCKER_METADATA_OUTPUT_TAGS).toBe(f.outputs.tags);
    expect(f.saved).toEqual([]);
    expect(f.report).toMatchObject({ tags: ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:latest'], pushPlanned: true, secretIds: ['tok'], dryRun: true });
  });

  test('without the layer cache the cache outputs say so', async () => {
    const f = fakeDeps();
    await run(inputs({ cache: 'false' }), rc, f.deps);
    expect(f.outputs['cache-hit']).toBe('disabled');
    expect(f.outputs['cache-key']).toBe('');
  });
});

const base: BuildPlan = {
  builder: 'b1',
  context: '.',
  file: 'Dockerfile',
  target: '',
  platforms: [],
  buildArgs: [],
  secretSpecs: ['id=s,src=/f'],
  tags: ['r/app:1'],
  labels: [],
  annotations: [],
  cacheFrom: 'type=registry,ref=c',
  cacheTo: 'type=local,dest=/x',
  cacheExportDir: '/x',
  push: true,
  load: false,
  provenance: 'mode=min',
  sbom: '',
  metadataFile: '/m.json',
  outputs: ['type=local,dest=/out'],
  extraCacheTo: ['type=registry,ref=e'],
};
const mode = (o: Partial<BuildMode>): BuildMode => ({ scan: false, staged: 'no', localName: false, layout: false, deferExports: false, ...o });
const stage = (o: Partial<StageFacts>): StageFacts => ({ mode: mode({}), ociDir: '/oci', testRun: false, classicLoad: false, splitLoad: false, ...o });
const pick = (p: BuildPlan | undefined) =>
  p && {
    push: p.push,
    load: p.load,
    tags: p.tags,
    outputs: p.outputs,
    extraCacheTo: p.extraCacheTo,
    cacheTo: p.cacheTo,
    provenance: p.provenance,
    sbom: p.sbom,
  };

describe('firstInvocation and lastInvocation', () => {
  const rows: [string, BuildPlan, StageFacts, ReturnType<typeof pick>, ReturnType<typeof pick>][] = [
    [
      'nothing staged: the build pushes and exports itself',
      base,
      stage({}),
      {
        push: true,
        load: false,
        tags: ['r/app:1'],
        outputs: ['type=local,dest=/out'],
        extraCacheTo: ['type=registry,ref=e'],
        cacheTo: 'type=local,dest=/x',
        provenance: 'mode=min',
        sbom: '',
      },
      undefined,
    ],
    [
      'docker driver: stored under the local name, outputs deferred',
      base,
      stage({ mode: mode({ scan: true, staged: 'load-then-push', localName: true, deferExports: true }), local: 'L' }),
      { push: false, load: true, tags: ['L'], outputs: [], extraCacheTo: [], cacheTo: 'type=local,dest=/x', provenance: 'mode=min', sbom: '' },
      {
        push: false,
        load: false,
        tags: ['r/app:1'],
        outputs: ['type=local,dest=/out'],
        extraCacheTo: ['type=registry,ref=e'],
        cacheTo: undefined,
        provenance: 'mode=min',
        sbom: '',
      },
    ],
    [
      'other drivers: a layout for the guard, then a cached push',
      base,
      stage({ mode: mode({ scan: true, staged: 'layout-then-rebuild', layout: true, deferExports: true }) }),
      {
        push: false,
        load: false,
        tags: ['r/app:1'],
        outputs: ['type=oci,dest=/oci,tar=false'],
        extraCacheTo: [],
        cacheTo: 'type=local,dest=/x',
        provenance: 'mode=min',
        sbom: '',
      },
      {
        push: true,
        load: false,
        tags: ['r/app:1'],
        outputs: ['type=local,dest=/out'],
        extraCacheTo: ['type=registry,ref=e'],
        cacheTo: undefined,
        provenance: 'mode=min',
        sbom: '',
      },
    ],
    [
      'a test on a classic store: loaded without attestations under the local name',
      { ...base, outputs: [], extraCacheTo: [] },
      stage({ mode: mode({ staged: 'layout-then-rebuild' }), local: 'L', testRun: true, classicLoad: true, splitLoad: true }),
      { push: false, load: true, tags: ['L'], outputs: [], extraCacheTo: [], cacheTo: 'type=local,dest=/x', provenance: 'false', sbom: '' },
      { push: true, load: false, tags: ['r/app:1'], outputs: [], extraCacheTo: [], cacheTo: undefined, provenance: 'mode=min', sbom: '' },
    ],
    [
      'the extra cache-to checked in a local export first',
      base,
      stage({ mode: mode({ scan: true, deferExports: true }), scanCacheDir: '/scan' }),
      {
        push: true,
        load: false,
        tags: ['r/app:1'],
        outputs: [],
        extraCacheTo: [],
        cacheTo: 'type=local,dest=/scan,mode=max,ignore-error=true',
        provenance: 'mode=min',
        sbom: '',
      },
      {
        push: false,
        load: false,
        tags: ['r/app:1'],
        outputs: ['type=local,dest=/out'],
        extraCacheTo: ['type=registry,ref=e'],
        cacheTo: undefined,
        provenance: 'mode=min',
        sbom: '',
      },
    ],
    [
      'push by digest, nothing staged',
      { ...base, push: false, tags: [], outputs: [], extraCacheTo: [], pushByDigest: 'type=image,push-by-digest=true' },
      stage({}),
      {
        push: false,
        load: false,
        tags: [],
        outputs: ['type=image,push-by-digest=true'],
        extraCacheTo: [],
        cacheTo: 'type=local,dest=/x',
        provenance: 'mode=min',
        sbom: '',
      },
      undefined,
    ],
  ];
  test.each(rows)('%s', (_n, b, s, first, last) => {
    const f = firstInvocation(b, s);
    expect(pick(f)).toEqual(first);
    expect(pick(lastInvocation(b, f, s.mode))).toEqual(last);
  });

  test('the last invocation keeps the cache source the first one ran with after a retry, and drops the cache flags', () => {
    const b = { ...base, flags: { noCache: true, pull: true, noCacheFilters: ['x'], network: 'host' } };
    const used = { ...firstInvocation(b, stage({ mode: mode({ staged: 'layout-then-rebuild' }) })), cacheFrom: undefined };
    const last = lastInvocation(b, used, mode({ staged: 'layout-then-rebuild' }))!;
    expect(last.cacheFrom).toBeUndefined();
    expect(last.flags).toEqual({ noCache: false, pull: false, noCacheFilters: [], network: 'host' });
    expect(last.secretSpecs).toEqual(['id=s,src=/f']);
  });

  test('the request itself is never changed', () => {
    const b = structuredClone(base);
    firstInvocation(b, stage({ mode: mode({ localName: true, deferExports: true }), local: 'L', scanCacheDir: '/s' }));
    expect(b).toEqual(base);
  });

  test.each([
    [mode({ localName: true }), false, false, 1, true],
    [mode({}), true, false, 1, true],
    [mode({}), true, true, 1, false],
    [mode({}), true, true, 0, true],
    [mode({}), false, true, 1, false],
  ])('needsLocalName(%j, test %s, load %s, %s tags) = %s', (m, t, l, n, want) => expect(needsLocalName(m, t, l, n)).toBe(want));
});
