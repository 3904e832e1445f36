// .github/workflows: every file is valid YAML with jobs and steps; the reusable workflow has every
// input of action.yml (same names, same defaults, credentials as secrets); CI runs what the README
// says; the release workflow moves only vX.Y.Z releases' major tag.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { loadActionYaml } from '../../scripts/lib/action-docs.mjs';
import { reusableWorkflowDrift } from './helpers/reusable-workflow-drift.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = path.join(ROOT, '.github/workflows');
const action = loadActionYaml(path.join(ROOT, 'action.yml'));
const actionInputs = action.inputs ?? {};

function workflow(name: string): any {
  return loadYaml(readFileSync(path.join(DIR, name), 'utf8'));
}

describe('every workflow file', () => {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
  test('the expected workflows exist', () => {
    expect(files.sort()).toEqual(expect.arrayContaining(['ci.yml', 'docker-build.yml', 'release.yml']));
  });
  test.each(files)('%s parses, has triggers, and each job has a runner and steps that use or run something', (f) => {
    const wf = workflow(f);
    expect(typeof wf.name).toBe('string');
    expect(wf.on).toBeDefined();
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const [id, job] of Object.entries<any>(wf.jobs)) {
      expect([id, typeof job['runs-on']]).toEqual([id, 'string']);
      expect(Array.isArray(job.steps)).toBe(true);
      for (const s of job.steps) expect([id, !!(s.uses || s.run)]).toEqual([id, true]);
    }
  });
});

describe('the reusable workflow (docker-build.yml)', () => {
  const wf = workflow('docker-build.yml');
  const call = wf.on?.workflow_call;
  const job = wf.jobs.build;
  const step = job.steps.find((s: any) => /^oneshot-build\/oneshot-build-action@v\d+$/.test(s.uses ?? ''));

  test('is triggered only by workflow_call, with typed inputs', () => {
    expect(Object.keys(wf.on)).toEqual(['workflow_call']);
    for (const [name, spec] of Object.entries<any>(call.inputs)) {
      expect([name, ['string', 'boolean', 'number']]).toEqual([name, expect.arrayContaining([spec.type])]);
      expect([name, typeof spec.description]).toEqual([name, 'string']);
    }
  });

  test('checks out the caller and runs the action', () => {
    expect(job.steps[0].uses).toMatch(/^actions\/checkout@v\d+$/);
    expect(step).toBeDefined();
    expect(job['runs-on']).toBe('${{ inputs.runs-on }}');
  });

  // The one test that fails on drift: each line says which input is missing or different, and
  // what to write. The deliberate differences are DELIBERATE in reusable-workflow-drift.ts.
  test('has every input of action.yml, with its name and default, passed to the action unchanged', () => {
    expect(reusableWorkflowDrift(actionInputs, call, step)).toEqual([]);
  });

  test('the drift check names a missing input, a changed default and a wrong pass-through', () => {
    const inputs = { ...call.inputs };
    delete inputs.target;
    const changed = { ...call, inputs: { ...inputs, context: { ...inputs.context, default: 'src' } } };
    const withs = { ...step.with, platforms: '${{ inputs.context }}' };
    const found = reusableWorkflowDrift({ ...actionInputs, 'new-input': { description: 'x', default: 'y' } }, changed, { ...step, with: withs });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^action\.yml input "target" \(default ""\) is missing from docker-build\.yml/),
        expect.stringMatching(/^action\.yml input "new-input" \(default "y"\) is missing from docker-build\.yml/),
        expect.stringMatching(/^docker-build\.yml input "context" has default "src", action\.yml has "\."/),
        expect.stringMatching(/^docker-build\.yml passes platforms: \$\{\{ inputs\.context \}\}, expected \$\{\{ inputs\.platforms \}\}/),
      ]),
    );
  });

  test("its outputs come from the action's outputs through the job", () => {
    for (const [name, spec] of Object.entries<any>(call.outputs)) {
      expect(spec.value).toBe(`\${{ jobs.build.outputs.${name} }}`);
      expect(job.outputs[name]).toBe(`\${{ steps.${step.id}.outputs.${name} }}`);
      expect(Object.keys(action.outputs ?? {})).toContain(name);
    }
    expect(Object.keys(call.outputs)).toEqual(expect.arrayContaining(['digest', 'tags', 'version', 'imageid', 'cache-hit']));
  });
});

describe('ci.yml', () => {
  const wf = workflow('ci.yml');
  const runs = (job: string) => wf.jobs[job].steps.map((s: any) => s.run ?? '').join('\n');

  test('typecheck, README tables and unit tests', () => {
    expect(runs('check')).toMatch(/npx tsc --noEmit/);
    expect(runs('check')).toMatch(/npm run docs -- --check/);
    expect(runs('check')).toMatch(/npm run test:unit/);
  });

  test('dist/ must equal a fresh build', () => {
    expect(runs('dist')).toMatch(/npm run build[\s\S]*git status --porcelain -- dist[\s\S]*exit 1/);
  });

  test('end-to-end tests with the real Docker stack on a Debian container, via .ci/run', () => {
    expect(wf.jobs.e2e.container.image).toMatch(/^debian:/);
    expect(wf.jobs.e2e.container.options).toContain('--privileged');
    expect(runs('e2e')).toContain('bash .ci/run');
  });

  test('the action itself runs on a GitHub runner with real inputs only', () => {
    const step = wf.jobs.action.steps.find((s: any) => s.uses === './');
    expect(step).toBeDefined();
    for (const k of Object.keys(step.with)) expect([k, k in actionInputs]).toEqual([k, true]);
  });
});

describe('release.yml', () => {
  const wf = workflow('release.yml');
  const job = wf.jobs['major-tag'];
  const script = (name: RegExp) => job.steps.find((s: any) => name.test(s.name ?? '')).run as string;

  test('runs on published releases, skips pre-releases, may write tags', () => {
    expect(wf.on.release.types).toEqual(['published']);
    expect(job.if).toContain('!github.event.release.prerelease');
    expect(wf.permissions.contents).toBe('write');
  });

  test.each([
    ['v1.2.3', 0],
    ['v10.0.1', 0],
    ['v1.2.3-rc.1', 1],
    ['1.2.3', 1],
    ['v1.2', 1],
    ['v1', 1],
  ])('the tag check: %s -> exit %d', (tag, code) => {
    const r = spawnSync('bash', ['-e', '-c', script(/^Check the tag$/)], { env: { PATH: process.env.PATH, TAG: tag }, encoding: 'utf8' });
    expect(r.status).toBe(code);
  });

  test('the major tag (before the first dot) and the minor tag (before the last) are force-pushed to the release', () => {
    const move = script(/^Move the major and minor tags$/);
    const lines = move
      .split('\n')
      .filter((l) => /^\s*(MAJOR|MINOR)=/.test(l))
      .join('; ');
    const r = spawnSync('bash', ['-c', `${lines}; printf '%s %s' "$MAJOR" "$MINOR"`], { env: { PATH: process.env.PATH, TAG: 'v3.4.5' }, encoding: 'utf8' });
    expect(r.stdout).toBe('v3 v3.4');
    expect(move).toMatch(/for MOVED in "\$MAJOR" "\$MINOR"/);
    expect(move).toMatch(/git tag -fa "\$MOVED"/);
    expect(move).toMatch(/git push --force origin "refs\/tags\/\$MOVED"/);
  });

  test('this release: package.json 1.0.0, a CHANGELOG entry for v1.0.0, README snippets pin @v1', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.version).toBe('1.0.0');
    expect(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/^## \[?v?1\.0\.0\]? - \d{4}-\d{2}-\d{2}/m);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const m of readme.matchAll(/oneshot-build\/oneshot-build-action(?:\/[^@\s]*)?@(\S+)/g)) expect(['v1', 'v1.0', 'v1.0.0']).toContain(m[1]);
  });
});
