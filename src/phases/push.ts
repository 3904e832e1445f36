// Phase: on the docker driver, give the image stored under this run's own name its tags and push
// each. Two jobs of one self-hosted runner building the same new tag on one daemon would otherwise
// race to create that name in the store (`image "...": already exists`), and a job could push the
// image the other one had just tagged. Each push is checked: the registry must get this build's
// digest (containerd store), else the tag is set and pushed again.
import * as core from '@actions/core';
import { run, lastMeaningfulLine } from '../exec.js';
import type { BuildPlan } from '../docker/argv.js';
import type { StageFacts } from '../build-mode.js';
import { pushedDigest } from '../build-mode.js';
import type { DockerSetup } from './docker.js';

/** Times a tag is set and pushed again when another job on the daemon re-tagged it meanwhile. */
const PUSH_ATTEMPTS = 3;

/** The image id of a reference in the daemon's store ('' when there is none). */
export async function imageIdOf(ref: string, docker: DockerSetup): Promise<string> {
  return (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { env: docker.env, silent: true, ignoreReturnCode: true })).stdout.trim();
}

/** True when `tag` names another image than `local` now (another job tagged it). */
async function retaggedMeanwhile(tag: string, local: string, docker: DockerSetup): Promise<boolean> {
  const [a, b] = await Promise.all([imageIdOf(tag, docker), imageIdOf(local, docker)]);
  return !!a && !!b && a !== b;
}

/** Tags `local` as `tag` and pushes it, again while another job re-tags the name; returns the registry's digest. */
async function tagAndPushOne(tag: string, local: string, push: boolean, expected: string, docker: DockerSetup): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const t = await run('docker', ['tag', local, tag], { env: docker.env, silent: true, ignoreReturnCode: true });
    if (t.exitCode !== 0) throw new Error(`push: docker tag ${tag} failed: ${lastMeaningfulLine(t.stderr) || lastMeaningfulLine(t.stdout)}`);
    if (!push) return '';
    const r = await run('docker', ['push', tag], { env: docker.env, ignoreReturnCode: true });
    if (r.exitCode !== 0) {
      const failed = `push: docker push ${tag} failed: ${lastMeaningfulLine(r.stderr) || lastMeaningfulLine(r.stdout)}`;
      // Another job re-tagging the name mid-push makes the push send a mix of both images.
      if (attempt >= PUSH_ATTEMPTS || !(await retaggedMeanwhile(tag, local, docker))) throw new Error(failed);
      core.info(`push: another build on this Docker daemon tagged ${tag} while it was pushed, and the push failed; tagging and pushing again.`);
      continue;
    }
    const got = pushedDigest(r.stdout);
    if (!expected || !got || got === expected) return got;
    const why = `another build on this Docker daemon tagged ${tag} while it was pushed (the registry got ${got}, this build made ${expected})`;
    if (attempt >= PUSH_ATTEMPTS) throw new Error(`push: ${why}, ${PUSH_ATTEMPTS} times; the tag cannot be pushed reliably while it does`);
    core.info(`push: ${why}; tagging and pushing again.`);
  }
}

/**
 * Gives the image stored under `local` each tag and, when pushing, pushes it. With `expected` (the
 * built digest, known on the containerd store), a push that sent another image is done again.
 * Returns the digest the registry got.
 */
async function tagAndPush(tags: string[], local: string, push: boolean, expected: string, docker: DockerSetup): Promise<string> {
  // One after the other: two pushes of one index to one repository at once can race, the one that
  // finds a child manifest 'already exists' putting the index before the other has finished it
  // (the registry answers 400: references missing).
  let digest = '';
  for (const tag of tags) {
    // Every tag is pushed (`digest ||= await ...` would skip the later ones).
    const got = await tagAndPushOne(tag, local, push, expected, docker);
    digest ||= got;
  }
  return digest;
}

/**
 * The "Push" (or "Tag") group of a build stored under this run's own name; elsewhere only removes
 * a name of this run's own that is not to stay. Returns the digest (the built one, or the
 * registry's) and the local image id.
 */
export async function tagPhase(b: BuildPlan, stage: StageFacts, built: string, docker: DockerSetup): Promise<{ digest: string; localId: string }> {
  const { local } = stage;
  const wantPush = b.push || !!b.pushByDigest;
  if (!stage.mode.localName || !local) {
    if (local && !b.load) await run('docker', ['image', 'rm', local], { env: docker.env, silent: true, ignoreReturnCode: true });
    return { digest: built, localId: '' };
  }
  return core.group(wantPush && b.tags.length ? 'Push' : 'Tag', async () => {
    const expected = docker.toolchain.containerdStore ? built : '';
    const [localId, pushed] = await Promise.all([imageIdOf(local, docker), tagAndPush(b.tags, local, wantPush, expected, docker)]);
    if (pushed && built && pushed !== built) core.warning(`push: the registry has ${pushed}, the build made ${built}; the digest output is the registry's.`);
    // The computed tags stay in the store (as a build without this action leaves them); the run's
    // own name goes, unless it is the only name of an image to be loaded.
    if (b.tags.length || !b.load) await run('docker', ['image', 'rm', local], { env: docker.env, silent: true, ignoreReturnCode: true });
    return { digest: pushed || built, localId };
  });
}
