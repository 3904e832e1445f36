// The reusable workflow of distribute mode (.github/workflows/distributed-build.yml): its
// platform-to-runner map (the plan job's script, run here), one matrix job per platform with
// distribute: platform, then the merge; every secret reaches every job that runs the action.
import { readFileSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { loadActionYaml } from '../../scripts/lib/action-docs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wf: any = loadYaml(readFileSync(path.join(ROOT, '.github/workflows/distributed-build.yml'), 'utf8'));
const action = loadActionYaml(path.join(ROOT, 'action.yml')) as { inputs: Record<string, { default?: unknown }>; outputs: Record<string, unknown> };
const call = wf.on.workflow_call;
const actionStep = (job: string) => wf.jobs[job].steps.find((s: any) => /^oneshot-build\/oneshot-build-action@v\d+$/.test(s.uses ?? ''));

/** Runs the plan job's script as the runner would: env from the step, GITHUB_OUTPUT a file. */
function plan(env: Record<string, string>): { status: number | null; matrix?: any; stderr: string } {
  const step = wf.jobs.plan.steps[0];
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'obc-wf-')), 'output');
  const r = spawnSync('bash', ['-e', '-c', step.run], {
    env: { PATH: process.env.PATH, GITHUB_OUTPUT: out, DEFAULT_RUNNER: 'ubuntu-24.04', RUNNERS: '{}', ...env },
    encoding: 'utf8',
  });
  let matrix;
  try {
    matrix = JSON.parse(readFileSync(out, 'utf8').replace(/^matrix=/, ''));
  } catch {
    /* no output */
  }
  return { status: r.status, matrix, stderr: r.stderr };
}

describe('distributed-build.yml', () => {
  test('the step passes inputs by reference only (no expression inside the script)', () => {
    const step = wf.jobs.plan.steps[0];
    expect(step.run).not.toContain('${{');
    expect(step.env).toEqual({ PLATFORMS: '${{ inputs.platforms }}', RUNNERS: '${{ inputs.runners }}', DEFAULT_RUNNER: '${{ inputs.default-runner }}' });
  });

  test.each<[Record<string, string>, { platform: string; runner: string }[]]>([
    [
      { PLATFORMS: 'linux/amd64,linux/arm64' },
      [
        { platform: 'linux/amd64', runner: 'ubuntu-24.04' },
        { platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' },
      ],
    ],
    [
      { PLATFORMS: 'linux/arm64\nlinux/arm/v7, linux/arm64' },
      [
        { platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' },
        { platform: 'linux/arm/v7', runner: 'ubuntu-24.04' },
      ],
    ],
    [
      { PLATFORMS: 'linux/amd64,linux/arm64', RUNNERS: '{"linux/arm64":"my-arm","linux/s390x":"z"}', DEFAULT_RUNNER: 'big' },
      [
        { platform: 'linux/amd64', runner: 'big' },
        { platform: 'linux/arm64', runner: 'my-arm' },
      ],
    ],
  ])('platform-to-runner map %j', (env, include) => {
    const r = plan(env);
    expect(r.status).toBe(0);
    expect(r.matrix).toEqual({ include });
  });

  test.each([
    [{ PLATFORMS: '' }, 'platforms: nothing to build'],
    [{ PLATFORMS: 'linux/amd64', RUNNERS: '["x"]' }, 'runners: expected a JSON object'],
  ])('refuses %j', (env, msg) => {
    const r = plan(env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(msg);
  });

  test('one matrix job per platform with distribute: platform, then the merge that needs them', () => {
    expect(wf.jobs.platform.strategy.matrix).toBe('${{ fromJSON(needs.plan.outputs.matrix) }}');
    expect(wf.jobs.platform['runs-on']).toBe('${{ matrix.runner }}');
    expect(actionStep('platform').with).toMatchObject({ distribute: 'platform', platforms: '${{ matrix.platform }}' });
    expect(wf.jobs.merge.needs).toEqual(['plan', 'platform']);
    expect(actionStep('merge').with).toMatchObject({ distribute: 'merge', platforms: '${{ inputs.platforms }}' });
  });

  test('every secret reaches every job that runs the action', () => {
    const secrets: Record<string, string> = { password: 'password', 'registry-auth': 'registry-auth', 'build-secrets': 'secrets' };
    expect(Object.keys(call.secrets).sort()).toEqual(Object.keys(secrets).sort());
    for (const job of ['platform', 'merge'])
      for (const [s, input] of Object.entries(secrets)) expect([job, actionStep(job).with[input]]).toEqual([job, `\${{ secrets.${s} }}`]);
  });

  test("inputs other than the map are the action's, with its defaults", () => {
    const own = new Set(['platforms', 'runners', 'default-runner']);
    for (const [name, spec] of Object.entries<any>(call.inputs)) {
      if (own.has(name)) continue;
      expect([name, name in action.inputs]).toEqual([name, true]);
      if (!spec.required) expect([name, String(spec.default)]).toEqual([name, String(action.inputs[name].default ?? '')]);
      const used = ['platform', 'merge'].some((j) => actionStep(j).with[name] === `\${{ inputs.${name} }}`);
      expect([name, used]).toEqual([name, true]);
    }
  });

  test("its outputs are the merge's", () => {
    for (const [name, spec] of Object.entries<any>(call.outputs)) {
      expect(spec.value).toBe(`\${{ jobs.merge.outputs.${name} }}`);
      expect(wf.jobs.merge.outputs[name]).toBe(`\${{ steps.merge.outputs.${name} }}`);
      expect(name in action.outputs).toBe(true);
    }
  });
});
