// Pure planning of how a build runs: whether the leak guard checks it, whether it is staged (built
// without pushing, checked, then pushed), and the buildx invocations that follow from that. The
// build phase (phases/build.ts) carries them out; nothing here runs a program or writes a file.
import { randomBytes } from 'node:crypto';
import type { BuildPlan } from './docker/argv.js';
import { localCacheTo } from './plan.js';

/** How the build is run, given what leaves the runner and whether there is anything to look for. */
export interface BuildMode {
  /** Run the leak guard before anything leaves. */
  scan: boolean;
  /** Build without pushing, check (and test), then push: by docker push of the loaded image, or by
   *  a second, fully cached buildx invocation. */
  staged: 'no' | 'load-then-push' | 'layout-then-rebuild';
  /** Docker driver: the build stores the image under a name of this run's own, then tags it. */
  localName: boolean;
  /** The first build also exports an OCI layout of the image, for the leak guard. */
  layout: boolean;
  /** The `outputs` and extra `cache-to` entries are exported by a last, fully cached buildx
   *  invocation, after the leak guard and the test commands passed. */
  deferExports: boolean;
}

export interface ModeFacts {
  guard: boolean;
  needles: number;
  push: boolean;
  tags: number;
  cacheSaved: boolean;
  driver: string;
  /** The `load` input. */
  load?: boolean;
  /** test-run commands are given. */
  test?: boolean;
  /** Counts of the `outputs` and extra `cache-to` entries. */
  outputs?: number;
  extraCacheTo?: number;
  /** A `call` other than build: no image, nothing leaves. */
  call?: boolean;
  /** The load goes to a classic image store, which takes no attestations: the loading build has
   *  none, and a second, cached invocation pushes and exports with them. */
  splitLoad?: boolean;
}

/** The build mode. */
export function buildMode(o: ModeFacts): BuildMode {
  const outputs = o.outputs ?? 0;
  const extraCacheTo = o.extraCacheTo ?? 0;
  if (o.call) return { scan: false, staged: 'no', localName: false, layout: false, deferExports: false };
  const leaves = o.push || outputs > 0 || extraCacheTo > 0 || !!o.load;
  const scan = o.guard && o.needles > 0 && (leaves || o.cacheSaved);
  // Nothing leaves before the leak guard and the test commands passed.
  const hold = scan || !!o.test || !!o.splitLoad;
  const pushTags = o.push && o.tags > 0;
  if (o.driver === 'docker' && (o.tags > 0 || o.load || o.test)) {
    // The first build loads the image: outputs need an invocation of their own.
    return { scan, staged: pushTags ? 'load-then-push' : 'no', localName: true, layout: false, deferExports: outputs > 0 || (hold && extraCacheTo > 0) };
  }
  if (!hold) return { scan, staged: 'no', localName: false, layout: false, deferExports: false };
  return {
    scan,
    staged: pushTags ? 'layout-then-rebuild' : 'no',
    localName: false,
    layout: scan && (pushTags || outputs > 0 || !!o.load),
    deferExports: outputs > 0 || extraCacheTo > 0,
  };
}

/** A name in the daemon's image store that no other job uses (never pushed: it has no registry). */
export function localImageName(rand: string = randomBytes(8).toString('hex')): string {
  return `oneshot-build-local/${rand}:build`;
}

/** What the invocations are planned from, besides the requested build. */
export interface StageFacts {
  mode: BuildMode;
  /** This run's own image name, when the build needs one (see needsLocalName). */
  local?: string;
  /** Where the first build writes the OCI layout the guard reads (mode.layout). */
  ociDir: string;
  /** The guard checks the extra cache-to's layers in a local export here first (scanExtraCache). */
  scanCacheDir?: string;
  testRun: boolean;
  /** A load into a classic image store, which takes no attestations. */
  classicLoad: boolean;
  splitLoad: boolean;
}

/** The image needs a name of this run's own: the docker driver's staging, or a test of an image not loaded under its tags. */
export function needsLocalName(mode: BuildMode, testRun: boolean, load: boolean, tags: number): boolean {
  return mode.localName || (testRun && !(load && tags > 0));
}

/**
 * The first buildx invocation: the requested build, held back from leaving the runner where the
 * mode stages it (no push; a load, a layout or a local name instead), without the exports the mode
 * defers. `b` is the build as requested (push, tags and outputs as the user asked).
 */
export function firstInvocation(b: BuildPlan, f: StageFacts): BuildPlan {
  const { mode, local } = f;
  const first: BuildPlan = { ...b };
  if (mode.deferExports) Object.assign(first, { outputs: [], extraCacheTo: [] });
  if (f.scanCacheDir) Object.assign(first, { cacheTo: localCacheTo(f.scanCacheDir), cacheExportDir: f.scanCacheDir });
  if (mode.localName && local) return { ...first, tags: [local], push: false, load: true };
  if (mode.staged === 'layout-then-rebuild' || mode.layout || f.testRun || f.splitLoad) {
    const load = b.load || f.testRun;
    Object.assign(first, { push: false, load });
    if (local) first.tags = b.load ? [...b.tags, local] : [local];
    if (load && f.classicLoad) Object.assign(first, { provenance: 'false', sbom: '' });
    if (mode.layout) first.outputs = [...(first.outputs ?? []), `type=oci,dest=${f.ociDir},tar=false`];
    return first;
  }
  if (b.pushByDigest) first.outputs = [...(first.outputs ?? []), b.pushByDigest];
  return first;
}

/**
 * The last invocation, after the guard and the tests passed, when the mode needs one: the same
 * build again, fully cached, exporting only what leaves (the push, the deferred outputs and extra
 * cache-to). `used` is the first invocation as it ran (its cache source after a retry), `b` the
 * build as requested.
 */
export function lastInvocation(b: BuildPlan, used: BuildPlan, mode: BuildMode): BuildPlan | undefined {
  if (mode.staged !== 'layout-then-rebuild' && !mode.deferExports) return undefined;
  const pushHere = mode.staged === 'layout-then-rebuild';
  const byDigest = b.pushByDigest;
  return {
    ...used,
    push: pushHere && !byDigest,
    load: false,
    tags: b.tags,
    outputs: [...(pushHere && byDigest ? [byDigest] : []), ...(mode.deferExports ? (b.outputs ?? []) : [])],
    extraCacheTo: mode.deferExports ? (b.extraCacheTo ?? []) : [],
    cacheTo: undefined,
    flags: { ...b.flags, noCache: false, noCacheFilters: [], pull: false },
    provenance: b.provenance,
    sbom: b.sbom,
  };
}

/** The buildx metadata for the `metadata` output, with a name of this run's own replaced by the tags. */
export function publicMetadata(md: Record<string, any>, local: string | undefined, tags: string[]): Record<string, any> {
  if (!local || typeof md['image.name'] !== 'string') return md;
  // buildx reports the name normalized (docker.io/ before a name without a registry).
  const names = md['image.name'].split(',').filter((n: string) => n !== local && n !== `docker.io/${local}`);
  const out = { ...md };
  if (names.length || tags.length) out['image.name'] = [...new Set([...names, ...tags])].join(',');
  else delete out['image.name'];
  return out;
}

/** Docker output of `docker push`: the digest the registry got. */
export function pushedDigest(stdout: string): string {
  return /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1] ?? '';
}
