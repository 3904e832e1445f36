// Phase: Docker and buildx, registry login, and the builder.
import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import { InputError } from '../inputs.js';
import type { Context } from '../context.js';
import { dockerEnv, login, makeDockerConfig, prepareBuilder, probeToolchain } from '../docker/docker.js';
import type { Builder, Toolchain } from '../docker/docker.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';

export interface DockerSetup {
  /** The environment for every docker command from here on. */
  env: Record<string, string>;
  toolchain: Toolchain;
  builder: Builder;
}

export async function setupDocker(inputs: Inputs, ctx: Context, state: PostState): Promise<DockerSetup> {
  let env = dockerEnv(undefined);
  const toolchain = await core.group('Docker and buildx', async () => {
    const t = await probeToolchain(env);
    core.info(`Docker ${t.dockerVersion}, buildx ${t.buildxVersion}, containerd image store: ${t.containerdStore}`);
    return t;
  });

  if (inputs.username || inputs.password) {
    if (!inputs.username || !inputs.password) {
      throw new InputError(inputs.username ? 'password' : 'username', 'registry login needs both username and password');
    }
    await core.group(`Login to ${inputs.registry || 'Docker Hub'}`, async () => {
      state.dockerConfig = await makeDockerConfig(ctx.runnerTemp);
      saveState(state);
      env = dockerEnv(state.dockerConfig);
      await login(inputs.registry, inputs.username, inputs.password, env);
      state.loggedIn.push(inputs.registry);
      saveState(state);
    });
  }

  const builder = await core.group('Builder', async () => {
    const b = await prepareBuilder(toolchain, env, ctx.runId);
    state.builder = { name: b.name, created: b.created };
    saveState(state);
    core.info(`Builder ${b.name} (driver ${b.driver})`);
    return b;
  });
  core.setOutput('builder', builder.name);
  return { env, toolchain, builder };
}
