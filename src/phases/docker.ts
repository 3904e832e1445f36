// Docker for the run, in three phases: the toolchain (docker and buildx), the registry logins, and
// the builder (QEMU first). Everything runs with the job's private DOCKER_CONFIG, which post deletes.
import type { Inputs } from '../inputs.js';
import type { Context } from '../context.js';
import { dockerEnv, makeDockerConfig } from '../docker/docker.js';
import type { Toolchain } from '../docker/docker.js';
import type { Builder } from '../docker/builder.js';
import type { StateKeeper } from '../state.js';
import type { EmulationResult } from './emulation.js';
import { toolchainPhase } from './toolchain.js';
import { loginPhase } from './login.js';
import { builderPhase, lookUpContextBuilder, pickDriver } from './builder.js';

export interface DockerSetup {
  /** The environment for every docker command from here on (carries the private DOCKER_CONFIG). */
  env: Record<string, string>;
  toolchain: Toolchain;
  builder: Builder;
  /** QEMU handlers for the build's platforms (emulation.ts). */
  emulation?: EmulationResult;
}

/** What the run will do with the images (for the automatic ghcr.io login). */
interface ImageIntent {
  images: string[];
  push: boolean;
  /** Make no registry login, for this reason (a pull request from a fork: no secrets to log in with). */
  skipLogin?: string;
  /** The platforms this step builds (QEMU is set up for those the runner cannot run). */
  platforms?: string[];
  /** distribute: platform: the build pushes by digest, which the docker driver cannot. */
  byDigest?: boolean;
}

export async function setupDocker(inputs: Inputs, ctx: Context, keeper: StateKeeper, intent: ImageIntent = { images: [], push: false }): Promise<DockerSetup> {
  const dockerConfig = await makeDockerConfig(ctx.runnerTemp);
  keeper.update({ dockerConfig });
  const env = dockerEnv(dockerConfig);
  // Asked now, beside the probes; the docker driver's builder is named after the context. When
  // that builder may be the one used (and the runner's own buildx is), it is inspected now too.
  const byDigest = !!intent.byDigest;
  const mayUseContext = !inputs.buildx.version && !inputs.builderExtra.existing && pickDriver(inputs, true, byDigest).driver === 'docker';
  const context = lookUpContextBuilder(env, mayUseContext);
  const toolchain = await toolchainPhase(
    { buildx: inputs.buildx, githubToken: inputs.githubToken, serverUrl: ctx.serverUrl, runnerTemp: ctx.runnerTemp, dockerConfig },
    env,
  );
  await loginPhase({ credentials: inputs, images: intent.images, push: intent.push, skipLogin: intent.skipLogin, actor: ctx.actor, dockerConfig }, env, keeper);
  const { builder, emulation } = await builderPhase(
    {
      builder: inputs.builder,
      builderExtra: inputs.builderExtra,
      picked: pickDriver(inputs, toolchain.containerdStore, byDigest),
      platforms: intent.platforms ?? [],
      qemu: inputs.qemu !== false,
      qemuImage: inputs.qemuImage,
      runId: ctx.runId,
      buildxVersion: toolchain.buildxVersion,
      dockerConfig,
      context,
    },
    env,
    keeper,
  );
  return { env, toolchain, builder, emulation };
}
