// README.md against the action it documents: the input and output tables must match action.yml
// (re-read here, as other changes add inputs), every example must use only real inputs, the links
// must resolve, and action.yml must meet the Marketplace's rules.
import { readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { loadActionYaml, updateReadme, tableNames, renderInputsTable, MARKERS } from '../../scripts/lib/action-docs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const action = loadActionYaml(path.join(ROOT, 'action.yml'));
const RUN_DOCS = 'README.md is out of date with action.yml: run `npm run docs` to regenerate its input and output tables, and commit README.md.';

function fail(msg: string): never {
  throw new Error(msg);
}

describe('README input and output tables', () => {
  test('every input of action.yml is in the inputs table, and nothing else', () => {
    const want = Object.keys(action.inputs ?? {});
    const have = tableNames(README, 'inputs');
    const missing = want.filter((n) => !have.includes(n));
    const extra = have.filter((n) => !want.includes(n));
    if (missing.length || extra.length) fail(`${RUN_DOCS}\n  missing from README: ${missing.join(', ') || '-'}\n  in README but not in action.yml: ${extra.join(', ') || '-'}`);
    expect(have).toEqual(want);
  });

  test('every output of action.yml is in the outputs table, and nothing else', () => {
    const want = Object.keys(action.outputs ?? {});
    const have = tableNames(README, 'outputs');
    if (want.join() !== have.join()) fail(`${RUN_DOCS}\n  action.yml outputs: ${want.join(', ')}\n  README outputs: ${have.join(', ')}`);
    expect(have).toEqual(want);
  });

  test('the tables are exactly what `npm run docs` generates (descriptions and defaults too)', () => {
    const regenerated = updateReadme(README, action);
    if (regenerated !== README) fail(RUN_DOCS);
    expect(regenerated).toBe(README);
  });

  test('the generator escapes what Markdown would swallow or split', () => {
    const table = renderInputsTable({
      inputs: {
        a: { description: 'Path (default: <context>/Dockerfile), x|y\nsecond line', default: '${{ github.token }}' },
        b: { description: 'Needed.', required: true },
      },
    });
    expect(table.split('\n')).toEqual([
      '| Input | Default | Description |',
      '| --- | --- | --- |',
      '| `a` | `${{ github.token }}` | Path (default: &lt;context&gt;/Dockerfile), x\\|y second line |',
      '| `b` |  | **Required.** Needed. |',
    ]);
  });

  test('a README without the markers is an error, not a silent no-op', () => {
    expect(() => updateReadme('# no markers', action)).toThrow(/inputs markers are missing/);
    expect(README.split(MARKERS.inputs[0])).toHaveLength(2);
    expect(README.split(MARKERS.outputs[0])).toHaveLength(2);
  });
});

describe('action.yml meets the Marketplace rules', () => {
  const COLORS = ['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark'];
  test('name, author, a description under 125 characters, branding icon and color', () => {
    expect(typeof action.name).toBe('string');
    expect(typeof action.author).toBe('string');
    expect(typeof action.description).toBe('string');
    expect((action.description as string).length).toBeLessThan(125);
    expect(action.branding?.icon).toMatch(/^[a-z0-9-]+$/);
    expect(COLORS).toContain(action.branding?.color);
  });

  test('every input and output has a description', () => {
    for (const [name, spec] of Object.entries(action.inputs ?? {})) if (!spec?.description?.trim()) fail(`action.yml: input ${name} has no description`);
    for (const [name, spec] of Object.entries(action.outputs ?? {})) if (!spec?.description?.trim()) fail(`action.yml: output ${name} has no description`);
  });
});

/** Fenced code blocks of one language. */
function blocks(lang: string): string[] {
  return [...README.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]);
}

/** Every mapping in a parsed YAML value, depth first. */
function* mappings(v: unknown): Generator<Record<string, any>> {
  if (Array.isArray(v)) for (const x of v) yield* mappings(x);
  else if (v && typeof v === 'object') {
    yield v as Record<string, any>;
    for (const x of Object.values(v)) yield* mappings(x);
  }
}

describe('README examples', () => {
  const yamlBlocks = blocks('yaml');
  const parsed = yamlBlocks.map((b, i) => {
    try {
      return loadYaml(b);
    } catch (err) {
      return fail(`README yaml block ${i + 1} does not parse: ${(err as Error).message}\n${b}`);
    }
  });

  test('there are examples for every scenario the README promises', () => {
    for (const heading of [
      '### GHCR with the job\'s token', '### Docker Hub', '### Several images in a matrix', '### Pull requests', '### Git tags and semver',
      '### A monorepo with several Dockerfiles', '### The reusable workflow', '## Migrating from the five-step setup', '## Performance', '## Security model',
    ]) expect(README).toContain(`\n${heading}\n`);
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(10);
  });

  test('every step that uses the action passes only inputs action.yml declares', () => {
    const inputs = new Set(Object.keys(action.inputs ?? {}));
    let steps = 0;
    for (const doc of parsed) {
      for (const m of mappings(doc)) {
        if (typeof m.uses !== 'string' || !/^oneshot-build\/oneshot-build-action@v\d+$/.test(m.uses)) continue;
        steps++;
        const unknown = Object.keys(m.with ?? {}).filter((k) => !inputs.has(k));
        if (unknown.length) fail(`README example passes unknown input(s) ${unknown.join(', ')} to the action`);
      }
    }
    expect(steps).toBeGreaterThanOrEqual(8);
  });

  test('the call of the reusable workflow passes only its declared inputs and secrets', () => {
    const wf = loadYaml(readFileSync(path.join(ROOT, '.github/workflows/docker-build.yml'), 'utf8')) as any;
    const call = wf.on.workflow_call;
    let calls = 0;
    for (const doc of parsed) {
      for (const m of mappings(doc)) {
        if (typeof m.uses !== 'string' || !m.uses.includes('/.github/workflows/docker-build.yml@')) continue;
        calls++;
        for (const k of Object.keys(m.with ?? {})) expect(Object.keys(call.inputs)).toContain(k);
        for (const k of Object.keys(m.secrets ?? {})) expect(Object.keys(call.secrets)).toContain(k);
        for (const [k, spec] of Object.entries<any>(call.inputs)) if (spec.required) expect(Object.keys(m.with ?? {})).toContain(k);
      }
    }
    expect(calls).toBe(1);
  });

  test('the migration guide pastes the metadata-action tags, flavor and labels blocks unchanged', () => {
    const start = README.indexOf('## Migrating from the five-step setup');
    const section = README.slice(start, README.indexOf('\n## ', start + 1));
    const docs = blocks('yaml').filter((b) => section.includes(b)).map((b) => loadYaml(b) as any[]);
    expect(docs).toHaveLength(2);
    const [before, after] = docs;
    const meta = before.find((s) => /^docker\/metadata-action@/.test(s.uses ?? ''));
    const ours = after.find((s) => /^oneshot-build\/oneshot-build-action@/.test(s.uses ?? ''));
    for (const k of ['images', 'tags', 'flavor', 'labels']) expect(ours.with[k]).toBe(meta.with[k]);
    // The before side is the usual five actions plus the move-cache step.
    expect(before.map((s) => (s.uses ?? 'run').split('@')[0])).toEqual([
      'docker/setup-buildx-action', 'docker/login-action', 'docker/metadata-action', 'actions/cache', 'docker/build-push-action', 'run',
    ]);
    expect(after).toHaveLength(1);
  });
});

describe('README quick start, links and sections', () => {
  test('the quick start is two commands, and the scripts they name exist', () => {
    const quick = README.slice(README.indexOf('## Quick start'), README.indexOf('## Usage'));
    expect(quick).toContain('```sh\nnpm ci && npm run local\nnpm test\n```');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.local).toBe('node scripts/local-run.mjs');
    expect(pkg.scripts.docs).toBe('node scripts/docs.mjs');
    expect(pkg.scripts.test).toBeDefined();
    expect(existsSync(path.join(ROOT, 'scripts/local-run.mjs'))).toBe(true);
    expect(readFileSync(path.join(ROOT, 'scripts/local-run.mjs'), 'utf8')).toContain("'scripts/setup-env.sh'");
  });

  test('links the other engineers\' documents (they may not exist yet) and every other relative link resolves', () => {
    for (const doc of ['docs/builder-and-login.md', 'docs/secrets.md', 'docs/cache.md']) expect(README).toContain(`](${doc})`);
    const links = [...README.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    const broken = links.filter((l) => !l.startsWith('docs/') && !existsSync(path.join(ROOT, l)));
    expect(broken).toEqual([]);
  });

  test('the performance table sits between the bench markers, once', () => {
    const s = README.indexOf('<!-- bench:start -->');
    const e = README.indexOf('<!-- bench:end -->');
    expect(s).toBeGreaterThan(README.indexOf('## Performance'));
    expect(e).toBeGreaterThan(s);
    expect(README.indexOf('<!-- bench:start -->', s + 1)).toBe(-1);
    expect(README.slice(s, e)).toMatch(/^\| Scenario \|/m);
  });

  test('LICENSE is MIT with the project copyright; SECURITY.md and CHANGELOG.md exist', () => {
    const license = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(license.split('\n')[0]).toBe('MIT License');
    expect(license).toContain('Copyright (c) 2026 oneshot-build contributors');
    expect(readFileSync(path.join(ROOT, 'SECURITY.md'), 'utf8')).toMatch(/Reporting a vulnerability/);
    expect(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/## \[Unreleased\]/);
  });
});
