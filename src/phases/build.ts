// Phase: write the build secrets, run the build, check it for leaked secrets, then push.
//
// With secrets to look for and something about to leave the runner, the image is built without
// pushing, checked by the leak guard, and only then pushed:
// - docker driver (containerd image store): the build loads the image into the local store;
//   `docker save` streams it to the guard; `docker push` pushes each tag. The store keeps the image
//   index as built, so the pushed digest is the built one.
// - other drivers: the build exports an OCI layout next to the cache export; the guard reads it;
//   a second, fully cached buildx invocation pushes, and its digest is the registry's.
// The layer cache export is checked in both cases; a leak fails the step before the push, deletes
// the export, and post saves no cache (the build did not succeed).
//
// On the docker driver the build never writes the computed tags into the daemon's image store: it
// stores the image under a name of this run's own (localImageName), then tags it and pushes each
// tag. Two jobs of one self-hosted runner building the same new tag on one daemon would otherwise
// race to create that name in the store, and one fails with `image "...": already exists`; and a
// job could push the image the other one had just tagged. Each push is checked: the registry must
// get this build's digest (containerd store), else the tag is set and pushed again.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import type { Context } from '../context.js';
import type { RunPlan } from '../plan.js';
import type { BuildPlan } from '../docker/argv.js';
import { buildxArgv, displayCommand } from '../docker/argv.js';
import { createSecretDir, materializeSecrets, removeSecretDir, secretDirPath } from '../secrets.js';
import { run, lastMeaningfulLine, ExecError } from '../exec.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';
import type { DockerSetup } from './docker.js';
import type { Report } from '../report.js';
import { LeakGuard, LeakError, configDigestOf, planNeedles, MIN_NEEDLE_BYTES } from '../leakguard/index.js';
import type { SecretValue } from '../leakguard/index.js';
import { reportedCacheDigest } from '../cache/verify.js';
import { localCacheTo } from '../plan.js';
import { InputError } from '../inputs.js';
import { TestFailedError, runTestCommands, testEnv } from './test-run.js';

export interface BuildResult {
  digest: string;
  /** The buildx metadata file of the build (the push invocation's when it pushed). */
  metadata?: Record<string, any>;
  imageid: string;
  /** The cache export BuildKit reported (metadata file `cache.manifest`), when it made one. */
  cacheDigest?: string;
}

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

/** Pure: the build mode. */
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
  return { scan, staged: pushTags ? 'layout-then-rebuild' : 'no', localName: false, layout: scan && (pushTags || outputs > 0 || !!o.load), deferExports: outputs > 0 || extraCacheTo > 0 };
}

/** A name in the daemon's image store that no other job uses (never pushed: it has no registry). */
export function localImageName(rand: string = randomBytes(8).toString('hex')): string {
  return `oneshot-build-local/${rand}:build`;
}

/** Times a tag is set and pushed again when another job on the daemon re-tagged it meanwhile. */
const PUSH_ATTEMPTS = 3;

/** Lets the layer cache prepare a second attempt after a failed build (true: try again). */
export type RecoverFromCache = () => Promise<boolean>;

async function runBuildx(b: BuildPlan, docker: DockerSetup, recover?: RecoverFromCache): Promise<Record<string, any>> {
  await fs.mkdir(path.dirname(b.metadataFile), { recursive: true });
  for (;;) {
    await fs.rm(b.metadataFile, { force: true });
    const argv = buildxArgv(b);
    core.debug(`Build command: ${displayCommand('docker', argv)}`);
    try {
      // The only child that gets the secret-envs variables: buildx reads them for `--secret id=..,env=..`.
      // A call (check, outline, targets) prints its result: the log shows all of it.
      await run('docker', argv, { env: docker.env, secretEnv: true, ...(b.flags?.call ? { view: null } : {}) });
      break;
    } catch (err) {
      // A cached blob the service could not deliver fails BuildKit's cache lookup: build again without it.
      if (!recover || !(await recover())) throw err;
    }
  }
  return JSON.parse(await fs.readFile(b.metadataFile, 'utf8'));
}

/** `call`: buildx prints the result; problems found (buildx exits 1) fail the step with buildx's summary line. */
async function runCall(b: BuildPlan, docker: DockerSetup): Promise<Record<string, any>> {
  try {
    return await runBuildx(b, docker);
  } catch (err) {
    if (!(err instanceof ExecError)) throw err;
    const text = `${err.result.stdout}\n${err.result.stderr}`;
    if (/unsupported request frontend\.lint/.test(text)) {
      throw new Error(
        `call: ${b.flags?.call}: the builder's BuildKit ${docker.builder.buildkitVersion || ''} has no build checks (unsupported request frontend.lint), and the Dockerfile frontend that has them could not be pulled; ` +
          'use a newer BuildKit (driver-opts: image=moby/buildkit:<recent release>), or a runner that reaches Docker Hub',
      );
    }
    const line = /^Check complete.*$/m.exec(text)?.[0] ?? lastMeaningfulLine(err.result.stderr);
    throw new Error(`call: ${b.flags?.call}: ${line || `buildx exit code ${err.result.exitCode}`} (the log shows each)`);
  }
}

/** Docker output of `docker push`: the digest the registry got. */
export function pushedDigest(stdout: string): string {
  return /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1] ?? '';
}

/** True when `tag` names another image than `local` now (another job tagged it). */
async function retaggedMeanwhile(tag: string, local: string, docker: DockerSetup): Promise<boolean> {
  const id = async (ref: string) => (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { env: docker.env, silent: true, ignoreReturnCode: true })).stdout.trim();
  const [a, b] = await Promise.all([id(tag), id(local)]);
  return !!a && !!b && a !== b;
}

/**
 * Gives the image stored under `local` each tag and, when pushing, pushes it. With `expected` (the
 * built digest, known on the containerd store), a push that sent another image (another job
 * re-tagged the name in between) is done again. Returns the digest the registry got.
 */
async function tagAndPush(tags: string[], local: string, push: boolean, expected: string, docker: DockerSetup): Promise<string> {
  let digest = '';
  for (const tag of tags) {
    for (let attempt = 1; ; attempt++) {
      const t = await run('docker', ['tag', local, tag], { env: docker.env, silent: true, ignoreReturnCode: true });
      if (t.exitCode !== 0) throw new Error(`push: docker tag ${tag} failed: ${lastMeaningfulLine(t.stderr) || lastMeaningfulLine(t.stdout)}`);
      if (!push) break;
      const r = await run('docker', ['push', tag], { env: docker.env, ignoreReturnCode: true });
      if (r.exitCode !== 0) {
        const failed = `push: docker push ${tag} failed: ${lastMeaningfulLine(r.stderr) || lastMeaningfulLine(r.stdout)}`;
        // Another job re-tagging the name mid-push makes the push send a mix of both images.
        if (attempt >= PUSH_ATTEMPTS || !(await retaggedMeanwhile(tag, local, docker))) throw new Error(failed);
        core.info(`push: another build on this Docker daemon tagged ${tag} while it was pushed, and the push failed; tagging and pushing again.`);
        continue;
      }
      const got = pushedDigest(r.stdout);
      if (!expected || !got || got === expected) {
        digest ||= got;
        break;
      }
      const why = `another build on this Docker daemon tagged ${tag} while it was pushed (the registry got ${got}, this build made ${expected})`;
      if (attempt >= PUSH_ATTEMPTS) throw new Error(`push: ${why}, ${PUSH_ATTEMPTS} times; the tag cannot be pushed reliably while it does`);
      core.info(`push: ${why}; tagging and pushing again.`);
    }
  }
  return digest;
}

export async function buildPhase(
  inputs: Inputs,
  ctx: Context,
  plan: RunPlan,
  docker: DockerSetup,
  state: PostState,
  report: Report,
  secretValues: SecretValue[] = [],
  recover?: RecoverFromCache,
  /** Exports what post will save of the cache mounts; the guard checks it too. */
  mountExports?: { export(): Promise<string[]>; drop(): Promise<void> },
): Promise<BuildResult> {
  const b = plan.build;
  b.builder = docker.builder.name;
  const byDigest = b.pushByDigest;
  const wantPush = b.push || !!byDigest;
  const wantLoad = b.load;
  const testRun = inputs.build?.testRun ?? '';
  const userOutputs = b.outputs ?? [];
  const userCacheTo = b.extraCacheTo ?? [];
  const cacheSaved = !!(b.cacheTo && b.cacheExportDir && state.cache?.save);
  const needles = planNeedles(secretValues);
  const guardOn = inputs.secretScan !== false;
  if (guardOn) {
    for (const id of needles.skipped) {
      core.warning(`secret-scan: secret "${id}" is shorter than ${MIN_NEEDLE_BYTES} bytes; the leak guard cannot look for it.`);
    }
  }
  const attest = { provenance: b.provenance, sbom: b.sbom };
  // A classic image store takes no attestations: the build that loads makes none.
  const classicLoad = (wantLoad || testRun !== '') && docker.builder.driver !== 'docker' && !docker.toolchain.containerdStore;
  const splitLoad = classicLoad && (!/^(false|0|no)$/i.test(attest.provenance) || attest.sbom !== '');
  const mode = buildMode({
    guard: guardOn,
    needles: needles.needles.length,
    push: wantPush,
    // Pushed by digest: no tag, so no local name on the docker driver; the guard stages as elsewhere.
    tags: byDigest ? 1 : b.tags.length,
    cacheSaved,
    driver: byDigest ? 'by-digest' : docker.builder.driver,
    load: wantLoad,
    test: testRun !== '',
    outputs: userOutputs.length,
    extraCacheTo: userCacheTo.length,
    call: !!b.flags?.call,
    splitLoad,
  });
  checkLoadable(wantLoad || testRun !== '', b.platforms, docker);
  const ociDir = path.join(plan.root, 'image-oci');
  const scanCacheDir = path.join(plan.root, 'cache-scan');
  const tags = b.tags;
  const ownCacheTo = b.cacheTo;
  const ownCacheDir = b.cacheExportDir;
  const flags = b.flags;
  const needsName = mode.localName || (testRun !== '' && !(wantLoad && tags.length));
  const local = needsName ? localImageName() : undefined;
  // The extra cache-to entries wait for the guard: it checks a local export of the same layers.
  const scanExtraCache = mode.scan && mode.deferExports && userCacheTo.length > 0 && !cacheSaved;
  const started = Date.now();
  try {
    let md: Record<string, any> = {};
    let guardRef: LeakGuard | undefined;
    await core.group(b.flags?.call ? `Build (call: ${b.flags.call})` : 'Build', async () => {
      if (inputs.secrets.length) {
        // The path goes into the state before the directory exists: post removes it whatever happens.
        state.secretDir = secretDirPath(ctx.runnerTemp);
        saveState(state);
        await createSecretDir(state.secretDir);
        b.secretSpecs = await materializeSecrets(inputs.secrets, state.secretDir);
      }
      if (mode.deferExports) {
        b.outputs = [];
        b.extraCacheTo = [];
      }
      if (scanExtraCache) {
        await fs.rm(scanCacheDir, { recursive: true, force: true });
        b.cacheTo = localCacheTo(scanCacheDir);
        b.cacheExportDir = scanCacheDir;
      }
      if (mode.localName && local) {
        b.tags = [local];
        b.push = false;
        b.load = true;
      } else if (mode.staged === 'layout-then-rebuild' || mode.layout || testRun || splitLoad) {
        b.push = false;
        b.load = wantLoad || testRun !== '';
        if (local) b.tags = wantLoad ? [...tags, local] : [local];
        if (b.load && classicLoad) Object.assign(b, { provenance: 'false', sbom: '' });
        if (mode.layout) {
          await fs.rm(ociDir, { recursive: true, force: true });
          b.outputs = [...(b.outputs ?? []), `type=oci,dest=${ociDir},tar=false`];
        }
      } else if (byDigest) {
        b.outputs = [...(b.outputs ?? []), byDigest];
      }
      if (mode.staged !== 'no' || mode.deferExports || testRun) {
        core.info(`Building without pushing or exporting: ${[mode.scan ? 'the leak guard checks' : '', testRun ? 'test-run tests' : ''].filter(Boolean).join(' and ') || 'a second step exports'} the image first.`);
      }
      md = b.flags?.call ? await runCall(b, docker) : await runBuildx(b, docker, recover);
    });
    const cacheDigest = reportedCacheDigest(md);
    report.buildMs = Date.now() - started;

    if (mode.scan) {
      await core.group('Leak guard', async () => {
        const guard = new LeakGuard(needles);
        guardRef = guard;
        // The image, where it leaves the runner or is to stay in the store (load); the cache export always.
        if (mode.localName && local && (mode.staged === 'load-then-push' || wantLoad || userOutputs.length > 0)) await guard.scanDockerImage(local, docker.env);
        if (mode.layout) await guard.scanDirectory(ociDir, 'image');
        if ((cacheSaved || scanExtraCache) && b.cacheExportDir) await guard.scanDirectory(b.cacheExportDir, 'layer cache');
        for (const dir of (await mountExports?.export()) ?? []) await guard.scanDirectory(dir, 'cache mount');
        const s = guard.stats;
        report.secretScan = { blobs: s.blobs, storedBytes: s.storedBytes, decompressedBytes: s.decompressedBytes, ms: s.ms, leakedIds: [...new Set(guard.findings.map((f) => f.id))] };
        core.info(
          `Leak guard: looked for ${needles.needles.length} value(s) of ${secretValues.length - needles.skipped.length} secret(s) in ${s.blobs} blob(s), ` +
            `${s.storedBytes} bytes stored, ${s.decompressedBytes} bytes decompressed, in ${s.ms} ms.`,
        );
        const leak = guard.error();
        if (leak) {
          // Nothing of this build may leave: drop the cache export, the layout and the loaded images.
          await mountExports?.drop();
          if (b.cacheExportDir) await fs.rm(b.cacheExportDir, { recursive: true, force: true });
          await fs.rm(ociDir, { recursive: true, force: true });
          for (const ref of b.load ? b.tags : []) await run('docker', ['image', 'rm', ref], { env: docker.env, silent: true, ignoreReturnCode: true });
          throw leak;
        }
        core.info('Leak guard: no secret value found.');
      });
    }
    if (scanExtraCache) await fs.rm(scanCacheDir, { recursive: true, force: true });

    let digest: string = md['containerimage.digest'] ?? '';
    let localId = '';
    const idOf = async (ref: string) => (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { env: docker.env, silent: true, ignoreReturnCode: true })).stdout.trim();

    if (testRun) {
      const ref = local ?? tags[0];
      const id = md['containerimage.config.digest'] || (await idOf(ref));
      const t = await runTestCommands(testRun, { root: plan.root, cwd: ctx.workspace || process.cwd(), env: testEnv(docker.env, ref, id, tags) });
      report.test = { exitCode: t.exitCode, ms: t.ms };
      if (t.exitCode !== 0) {
        // A name of this run's own goes; the tags stay only where the image was to be loaded anyway.
        if (local) await run('docker', ['image', 'rm', local], { env: docker.env, silent: true, ignoreReturnCode: true });
        await fs.rm(ociDir, { recursive: true, force: true });
        throw new TestFailedError(t.exitCode, cacheDigest);
      }
    }

    if (mode.localName && local) {
      await core.group(wantPush && tags.length ? 'Push' : 'Tag', async () => {
        localId = await idOf(local);
        const expected = docker.toolchain.containerdStore ? digest : '';
        const pushed = await tagAndPush(tags, local, wantPush, expected, docker);
        if (pushed && digest && pushed !== digest) core.warning(`push: the registry has ${pushed}, the build made ${digest}; the digest output is the registry's.`);
        digest = pushed || digest;
        // The computed tags stay in the store (as a build without this action leaves them); the run's
        // own name goes, unless it is the only name of an image to be loaded.
        if (tags.length || !wantLoad) await run('docker', ['image', 'rm', local], { env: docker.env, silent: true, ignoreReturnCode: true });
      });
    } else if (local && !wantLoad) {
      await run('docker', ['image', 'rm', local], { env: docker.env, silent: true, ignoreReturnCode: true });
    }
    const rebuild = mode.staged === 'layout-then-rebuild' || mode.deferExports;
    if (rebuild) {
      const pushHere = mode.staged === 'layout-then-rebuild';
      await core.group(pushHere ? 'Push' : 'Export (outputs, cache-to)', async () => {
        // The same build again, fully cached: only what leaves is exported now.
        Object.assign(b, {
          push: pushHere && !byDigest,
          load: false,
          tags,
          outputs: [...(pushHere && byDigest ? [byDigest] : []), ...(mode.deferExports ? userOutputs : [])],
          extraCacheTo: mode.deferExports ? userCacheTo : [],
          cacheTo: undefined,
          flags: { ...flags, noCache: false, noCacheFilters: [], pull: false },
          ...attest,
        });
        const md2 = await runBuildx(b, docker);
        if (pushHere) {
          md = md2;
          digest = md['containerimage.digest'] ?? '';
        }
      });
      await fs.rm(ociDir, { recursive: true, force: true });
    }
    // Loading into the image store reports no config digest: read it from what the guard saw.
    const imageid: string = md['containerimage.config.digest'] || (guardRef ? configDigestOf(guardRef.small) : '') || localId;
    return { digest: wantPush ? digest : '', imageid, cacheDigest, metadata: publicMetadata(md, local, tags) };
  } finally {
    Object.assign(b, { push: byDigest ? false : wantPush, load: wantLoad, tags, outputs: userOutputs, extraCacheTo: userCacheTo, cacheTo: ownCacheTo, cacheExportDir: ownCacheDir, flags, ...attest });
    // The secret files are not needed any more; post removes the directory again, in case.
    await removeSecretDir(state.secretDir);
  }
}

/** Pure: the buildx metadata for the `metadata` output, with a name of this run's own replaced by the tags. */
export function publicMetadata(md: Record<string, any>, local: string | undefined, tags: string[]): Record<string, any> {
  if (!local || typeof md['image.name'] !== 'string') return md;
  // buildx reports the name normalized (docker.io/ before a name without a registry).
  const names = md['image.name'].split(',').filter((n: string) => n !== local && n !== `docker.io/${local}`);
  const out = { ...md };
  if (names.length || tags.length) out['image.name'] = [...new Set([...names, ...tags])].join(',');
  else delete out['image.name'];
  return out;
}

/** Refuses `call` where this buildx has no --call (build checks came with buildx 0.15). */
export async function checkCallSupported(docker: DockerSetup): Promise<void> {
  const help = await run('docker', ['buildx', 'build', '--help'], { env: docker.env, silent: true, ignoreReturnCode: true });
  if (/--call\b/.test(help.stdout + help.stderr)) return;
  throw new InputError(
    'call',
    `buildx ${docker.toolchain.buildxVersion} has no --call (build checks need buildx 0.15 or later); set buildx-version: latest (or a release from v0.15.0), or remove call`,
  );
}

/**
 * Refuses, before the build, to load several platforms into the classic image store, which
 * keeps one platform per name (the containerd store keeps them all).
 */
function checkLoadable(load: boolean, platforms: string[], docker: DockerSetup): void {
  if (!load || platforms.length < 2 || docker.toolchain.containerdStore) return;
  throw new InputError(
    'load',
    `the image store of this Docker daemon (not the containerd store) keeps one platform per image, but platforms has ${platforms.length}; build one platform to load or test, or turn on the containerd image store`,
  );
}

export { LeakError };
