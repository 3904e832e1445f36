// Phase: write the build secrets, run the build, read the result.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { Inputs } from '../inputs.js';
import type { Context } from '../context.js';
import type { RunPlan } from '../plan.js';
import { buildxArgv, displayCommand } from '../docker/argv.js';
import { makeSecretDir, materializeSecrets } from '../secrets.js';
import { run } from '../exec.js';
import type { PostState } from '../state.js';
import { saveState } from '../state.js';
import type { DockerSetup } from './docker.js';
import type { Report } from '../report.js';

export interface BuildResult {
  digest: string;
  imageid: string;
}

export async function buildPhase(inputs: Inputs, ctx: Context, plan: RunPlan, docker: DockerSetup, state: PostState, report: Report): Promise<BuildResult> {
  const b = plan.build;
  b.builder = docker.builder.name;
  const started = Date.now();
  await core.group('Build', async () => {
    if (inputs.secrets.length) {
      state.secretDir = await makeSecretDir(ctx.runnerTemp);
      saveState(state);
      b.secretSpecs = await materializeSecrets(inputs.secrets, state.secretDir);
    }
    await fs.mkdir(path.dirname(b.metadataFile), { recursive: true });
    await fs.rm(b.metadataFile, { force: true });
    const argv = buildxArgv(b);
    core.debug(`Build command: ${displayCommand('docker', argv)}`);
    await run('docker', argv, { env: docker.env });
  });
  report.buildMs = Date.now() - started;
  const md = JSON.parse(await fs.readFile(b.metadataFile, 'utf8'));
  const digest: string = md['containerimage.digest'] ?? '';
  return { digest: b.push ? digest : '', imageid: md['containerimage.config.digest'] ?? '' };
}
