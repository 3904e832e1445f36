// Phase: write the build secrets, run the build, check it for leaked secrets, test it, then push.
//
// With secrets to look for and something about to leave the runner, the image is built without
// pushing, checked by the leak guard, and only then pushed:
// - docker driver (containerd image store): the build loads the image into the local store;
//   `docker save` streams it to the guard; `docker push` pushes each tag. The store keeps the image
//   index as built, so the pushed digest is the built one.
// - other drivers: the build exports an OCI layout next to the cache export; the guard reads it;
//   a second, fully cached buildx invocation pushes, and its digest is the registry's.
// The layer cache export is checked in both cases; a leak fails the step before the push, deletes
// the export, and post saves no cache (the build did not succeed). build-mode.ts plans the
// invocations; this file runs them.
//
// On the docker driver the build never writes the computed tags into the daemon's image store: it
// stores the image under a name of this run's own (localImageName), then tags it and pushes each
// tag (phases/push.ts).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import type { BuildPlan } from '../docker/argv.js';
import { buildxArgv, displayCommand } from '../docker/argv.js';
import { createSecretDir, materializeSecrets, removeSecretDir, secretDirPath } from '../secrets.js';
import { run, lastMeaningfulLine, ExecError } from '../exec.js';
import type { StateKeeper } from '../state.js';
import type { DockerSetup } from './docker.js';
import type { Note } from '../report.js';
import { configDigestOf, planNeedles, MIN_NEEDLE_BYTES } from '../leakguard/index.js';
import type { LeakGuard, SecretValue } from '../leakguard/index.js';
import { reportedCacheDigest } from '../cache/verify.js';
import { InputError } from '../input-error.js';
import { TestFailedError, runTestCommands, testEnv } from './test-run.js';
import { buildMode, firstInvocation, lastInvocation, localImageName, needsLocalName, publicMetadata } from '../build-mode.js';
import type { BuildMode, StageFacts } from '../build-mode.js';
import { guardPhase } from './leak-guard.js';
import type { MountExports } from './leak-guard.js';
import { imageIdOf, tagPhase } from './push.js';

export interface BuildResult {
  digest: string;
  /** The buildx metadata file of the build (the push invocation's when it pushed). */
  metadata?: Record<string, any>;
  imageid: string;
  /** The cache export BuildKit reported (metadata file `cache.manifest`), when it made one. */
  cacheDigest?: string;
  /** How long the build itself took (not the guard, the tests or the push). */
  buildMs: number;
  /**
   * The bytes of the manifest or index the registry got (`digest`), when the leak guard read them
   * from the image store before the push (content-addressed: the same digest is the same bytes).
   */
  pushedManifest?: Buffer;
}

/** The cache arguments for a second attempt after a failed build; undefined: the failure was not the cache's. */
export type RecoverFromCache = (output: string) => Promise<Partial<Pick<BuildPlan, 'cacheFrom' | 'cacheTo' | 'cacheExportDir'>> | undefined>;

/** What the build phase is asked to do: the build as requested, complete (builder, cache, attestations). */
export interface BuildRequest {
  build: BuildPlan;
  /** This run's working directory (plan.root). */
  root: string;
  runnerTemp: string;
  /** Where test-run commands run. */
  workspace: string;
  secrets: Inputs['secrets'];
  secretValues: SecretValue[];
  /** secret-scan: the leak guard is on. */
  guard: boolean;
  testRun: string;
}

export interface BuildDeps {
  keeper: StateKeeper;
  note: Note;
  recover?: RecoverFromCache;
  /** Exports what post will save of the cache mounts; the guard checks it too. */
  mountExports?: MountExports;
}

/** Runs buildx until it succeeds or the layer cache cannot help; returns the metadata and the invocation that ran. */
async function runBuildx(b: BuildPlan, docker: DockerSetup, recover?: RecoverFromCache): Promise<{ md: Record<string, any>; used: BuildPlan }> {
  await fs.mkdir(path.dirname(b.metadataFile), { recursive: true });
  let used = b;
  for (;;) {
    await fs.rm(used.metadataFile, { force: true });
    const argv = buildxArgv(used);
    core.debug(`Build command: ${displayCommand('docker', argv)}`);
    try {
      // The only child that gets the secret-envs variables: buildx reads them for `--secret id=..,env=..`.
      // A call (check, outline, targets) prints its result: the log shows all of it.
      await run('docker', argv, { env: docker.env, secretEnv: true, ...(used.flags?.call ? { view: null } : {}) });
      break;
    } catch (err) {
      // A cached blob the service could not deliver fails BuildKit's cache lookup: build again without it.
      const again = recover ? await recover(err instanceof ExecError ? err.output : '') : undefined;
      if (!again) throw err;
      used = { ...used, ...again };
    }
  }
  return { md: JSON.parse(await fs.readFile(used.metadataFile, 'utf8')), used };
}

/** `call`: buildx prints the result; problems found (buildx exits 1) fail the step with buildx's summary line. */
async function runCall(b: BuildPlan, docker: DockerSetup): Promise<{ md: Record<string, any>; used: BuildPlan }> {
  try {
    return await runBuildx(b, docker);
  } catch (err) {
    if (!(err instanceof ExecError)) throw err;
    const text = err.output;
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

/** The mode and the staging facts for a request, with the leak guard's needles. */
function planStages(
  req: BuildRequest,
  needles: ReturnType<typeof planNeedles>,
  docker: DockerSetup,
  cacheSaved: boolean,
): { mode: BuildMode; stage: StageFacts } {
  const b = req.build;
  const testRun = req.testRun !== '';
  // A classic image store takes no attestations: the build that loads makes none.
  const classicLoad = (b.load || testRun) && docker.builder.driver !== 'docker' && !docker.toolchain.containerdStore;
  const splitLoad = classicLoad && (!/^(false|0|no)$/i.test(b.provenance) || b.sbom !== '');
  const byDigest = !!b.pushByDigest;
  const extraCacheTo = b.extraCacheTo?.length ?? 0;
  const mode = buildMode({
    guard: req.guard,
    needles: needles.needles.length,
    push: b.push || byDigest,
    // Pushed by digest: no tag, so no local name on the docker driver; the guard stages as elsewhere.
    tags: byDigest ? 1 : b.tags.length,
    cacheSaved,
    driver: byDigest ? 'by-digest' : docker.builder.driver,
    load: b.load,
    test: testRun,
    outputs: b.outputs?.length ?? 0,
    extraCacheTo,
    call: !!b.flags?.call,
    splitLoad,
  });
  // The extra cache-to entries wait for the guard: it checks a local export of the same layers.
  const scanExtraCache = mode.scan && mode.deferExports && extraCacheTo > 0 && !cacheSaved;
  const stage: StageFacts = {
    mode,
    local: needsLocalName(mode, testRun, b.load, b.tags.length) ? localImageName() : undefined,
    ociDir: path.join(req.root, 'image-oci'),
    scanCacheDir: scanExtraCache ? path.join(req.root, 'cache-scan') : undefined,
    testRun,
    classicLoad,
    splitLoad,
  };
  return { mode, stage };
}

/** Writes the inline secrets to files (the directory is in the state before it exists: post removes it whatever happens); returns the --secret specs. */
async function writeSecrets(req: BuildRequest, keeper: StateKeeper): Promise<string[]> {
  if (!req.secrets.length) return req.build.secretSpecs;
  const secretDir = secretDirPath(req.runnerTemp);
  keeper.update({ secretDir });
  await createSecretDir(secretDir);
  return materializeSecrets(req.secrets, secretDir);
}

/** The "Build" group: the first invocation. */
async function firstBuild(req: BuildRequest, first: BuildPlan, stage: StageFacts, docker: DockerSetup, recover?: RecoverFromCache) {
  return core.group(first.flags?.call ? `Build (call: ${first.flags.call})` : 'Build', async () => {
    if (stage.scanCacheDir) await fs.rm(stage.scanCacheDir, { recursive: true, force: true });
    if (stage.mode.layout) await fs.rm(stage.ociDir, { recursive: true, force: true });
    const { mode } = stage;
    if (mode.staged !== 'no' || mode.deferExports || stage.testRun) {
      const who = [mode.scan ? 'the leak guard checks' : '', stage.testRun ? 'test-run tests' : ''].filter(Boolean).join(' and ');
      core.info(`Building without pushing or exporting: ${who || 'a second step exports'} the image first.`);
    }
    return first.flags?.call ? runCall(first, docker) : runBuildx(first, docker, recover);
  });
}

/** Runs the test-run commands on the built image; a failure removes what the run made and throws. */
async function testImage(req: BuildRequest, stage: StageFacts, md: Record<string, any>, buildMs: number, docker: DockerSetup, note: Note): Promise<void> {
  const tags = req.build.tags;
  const ref = stage.local ?? tags[0];
  const id = md['containerimage.config.digest'] || (await imageIdOf(ref, docker));
  const t = await runTestCommands(req.testRun, { root: req.root, cwd: req.workspace || process.cwd(), env: testEnv(docker.env, ref, id, tags) });
  note({ test: { exitCode: t.exitCode, ms: t.ms } });
  if (t.exitCode === 0) return;
  // A name of this run's own goes; the tags stay only where the image was to be loaded anyway.
  if (stage.local) await run('docker', ['image', 'rm', stage.local], { env: docker.env, silent: true, ignoreReturnCode: true });
  await fs.rm(stage.ociDir, { recursive: true, force: true });
  throw new TestFailedError(t.exitCode, reportedCacheDigest(md), buildMs);
}

/** The last invocation (push, deferred exports), when the mode has one; returns its metadata when it pushed. */
async function lastBuild(req: BuildRequest, used: BuildPlan, stage: StageFacts, docker: DockerSetup): Promise<Record<string, any> | undefined> {
  const last = lastInvocation(req.build, used, stage.mode);
  if (!last) return undefined;
  const pushHere = stage.mode.staged === 'layout-then-rebuild';
  const md = await core.group(pushHere ? 'Push' : 'Export (outputs, cache-to)', async () => (await runBuildx(last, docker)).md);
  await fs.rm(stage.ociDir, { recursive: true, force: true });
  return pushHere ? md : undefined;
}

function warnShortSecrets(req: BuildRequest, needles: ReturnType<typeof planNeedles>): void {
  if (!req.guard) return;
  for (const id of needles.skipped) {
    core.warning(`secret-scan: secret "${id}" is shorter than ${MIN_NEEDLE_BYTES} bytes; the leak guard cannot look for it.`);
  }
}

export async function buildPhase(req: BuildRequest, docker: DockerSetup, deps: BuildDeps): Promise<BuildResult> {
  const b = req.build;
  const cacheSaved = !!(b.cacheTo && b.cacheExportDir && deps.keeper.state.cache?.save);
  const needles = planNeedles(req.secretValues);
  warnShortSecrets(req, needles);
  const { mode, stage } = planStages(req, needles, docker, cacheSaved);
  checkLoadable(b.load || stage.testRun, b.platforms, docker);
  const wantPush = b.push || !!b.pushByDigest;
  const started = Date.now();
  let buildMs: number | undefined;
  try {
    const secretSpecs = await writeSecrets(req, deps.keeper);
    const first = firstInvocation({ ...b, secretSpecs }, stage);
    let { md, used } = await firstBuild(req, first, stage, docker, deps.recover);
    const cacheDigest = reportedCacheDigest(md);
    buildMs = Date.now() - started;
    deps.note({ buildMs });
    let guard: LeakGuard | undefined;
    if (mode.scan) {
      guard = await guardPhase(
        { needles, secretCount: req.secretValues.length, first, stage, wantLoad: b.load, userOutputs: b.outputs?.length ?? 0, cacheSaved },
        docker,
        deps,
      );
    }
    if (stage.scanCacheDir) await fs.rm(stage.scanCacheDir, { recursive: true, force: true });
    if (stage.testRun) await testImage(req, stage, md, buildMs, docker, deps.note);
    const tagged = await tagPhase(b, stage, md['containerimage.digest'] ?? '', docker);
    const pushed = await lastBuild(req, used, stage, docker);
    if (pushed) md = pushed;
    const digest = pushed ? (md['containerimage.digest'] ?? '') : tagged.digest;
    // Loading into the image store reports no config digest: read it from what the guard saw.
    const imageid: string = md['containerimage.config.digest'] || (guard ? configDigestOf(guard.small) : '') || tagged.localId;
    const pushedManifest = wantPush && digest ? guard?.small.get(`blobs/${digest.replace(':', '/')}`) : undefined;
    return { digest: wantPush ? digest : '', imageid, cacheDigest, metadata: publicMetadata(md, stage.local, b.tags), buildMs, pushedManifest };
  } catch (err) {
    // A build that failed still shows how long it ran.
    if (buildMs === undefined) deps.note({ buildMs: Date.now() - started });
    throw err;
  } finally {
    // The secret files are not needed any more; post removes the directory again, in case.
    await removeSecretDir(deps.keeper.state.secretDir);
  }
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
