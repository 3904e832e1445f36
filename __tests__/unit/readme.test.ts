// README.md (and docs/*.md) against what they document, for the facts that go stale when the code
// changes: the input and output tables equal action.yml, the examples pass only inputs that exist,
// relative links and #anchors resolve, the action is pinned to one name and major version
// everywhere, and every npm command named is a script of package.json.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { loadActionYaml, updateReadme, tableNames, renderInputsTable, MARKERS } from '../../scripts/lib/action-docs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');
const README = read('README.md');
const action = loadActionYaml(path.join(ROOT, 'action.yml'));
const pkg = JSON.parse(read('package.json'));
const RUN_DOCS = 'README.md is out of date with action.yml: run `npm run docs` to regenerate its input and output tables, and commit README.md.';
/** README.md and every Markdown file of docs/, by path from the root. */
const DOCS: Record<string, string> = Object.fromEntries(
  [
    'README.md',
    ...readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ].map((f) => [f, read(f)]),
);
const ACTION = 'oneshot-build/oneshot-build-action';

function fail(msg: string): never {
  throw new Error(msg);
}

describe('README input and output tables', () => {
  test('every input of action.yml is in the inputs table, and nothing else', () => {
    const want = Object.keys(action.inputs ?? {});
    const have = tableNames(README, 'inputs');
    const missing = want.filter((n) => !have.includes(n));
    const extra = have.filter((n) => !want.includes(n));
    if (missing.length || extra.length)
      fail(`${RUN_DOCS}\n  missing from README: ${missing.join(', ') || '-'}\n  in README but not in action.yml: ${extra.join(', ') || '-'}`);
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

  test('the generated sections and the benchmark table each sit between their markers, once', () => {
    expect(() => updateReadme('# no markers', action)).toThrow(/inputs markers are missing/);
    expect(README.split(MARKERS.inputs[0])).toHaveLength(2);
    expect(README.split(MARKERS.outputs[0])).toHaveLength(2);
    // `npm run bench` rewrites what is between these two.
    expect(README.split('<!-- bench:start -->')).toHaveLength(2);
    expect(README.indexOf('<!-- bench:end -->')).toBeGreaterThan(README.indexOf('<!-- bench:start -->'));
  });
});

/** Fenced code blocks of one language. */
function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]);
}

/** Every mapping in a parsed YAML value, depth first. */
function* mappings(v: unknown): Generator<Record<string, any>> {
  if (Array.isArray(v)) for (const x of v) yield* mappings(x);
  else if (v && typeof v === 'object') {
    yield v as Record<string, any>;
    for (const x of Object.values(v)) yield* mappings(x);
  }
}

/** Every YAML example of the README and docs/, parsed, with where it is. */
const examples = Object.entries(DOCS).flatMap(([file, text]) =>
  blocks(text, 'yaml').map((b, i) => {
    try {
      return { where: `${file} yaml block ${i + 1}`, doc: loadYaml(b) };
    } catch (err) {
      return fail(`${file}: yaml block ${i + 1} does not parse: ${(err as Error).message}\n${b}`);
    }
  }),
);

/** The `uses:` mappings of the examples, with where they are. */
const usesSteps = examples.flatMap(({ where, doc }) => [...mappings(doc)].filter((m) => typeof m.uses === 'string').map((m) => ({ where, step: m })));

describe('README and docs examples', () => {
  test('every step that uses the action passes only inputs action.yml declares', () => {
    const inputs = new Set(Object.keys(action.inputs ?? {}));
    const steps = usesSteps.filter(({ step }) => step.uses.startsWith(`${ACTION}@`));
    const bad = steps.flatMap(({ where, step }) =>
      Object.keys(step.with ?? {})
        .filter((k) => !inputs.has(k))
        .map((k) => `${where}: unknown input ${k}`),
    );
    expect(bad).toEqual([]);
    expect(steps.filter(({ where }) => where.startsWith('README.md')).length).toBeGreaterThan(0);
  });

  test('every call of a reusable workflow passes only its declared inputs and secrets, and all required inputs', () => {
    const calls = usesSteps.filter(({ step }) => step.uses.startsWith(`${ACTION}/.github/workflows/`));
    const bad: string[] = [];
    for (const { where, step } of calls) {
      const file = step.uses.slice(`${ACTION}/`.length).split('@')[0];
      if (!existsSync(path.join(ROOT, file))) {
        bad.push(`${where}: ${file} does not exist`);
        continue;
      }
      const call = (loadYaml(read(file)) as any).on.workflow_call;
      for (const k of Object.keys(step.with ?? {})) if (!(k in (call.inputs ?? {}))) bad.push(`${where}: ${file} has no input ${k}`);
      for (const k of Object.keys(step.secrets ?? {})) if (!(k in (call.secrets ?? {}))) bad.push(`${where}: ${file} has no secret ${k}`);
      for (const [k, spec] of Object.entries<any>(call.inputs ?? {}))
        if (spec?.required && !(k in (step.with ?? {}))) bad.push(`${where}: required input ${k} of ${file} is not passed`);
    }
    expect(bad).toEqual([]);
    expect(calls.length).toBeGreaterThan(0);
  });
});

describe('version pins', () => {
  const major = `v${String(pkg.version).split('.')[0]}`;

  test('every uses: of this action names the repository and pins the major version of package.json', () => {
    // A step that pins something that looks like this action (a `oneshot-build` name) but not exactly it.
    const ours = usesSteps.filter(({ step }) => /oneshot-build/.test(step.uses));
    const bad = ours
      .filter(({ step }) => !step.uses.startsWith(`${ACTION}@`) && !step.uses.startsWith(`${ACTION}/.github/workflows/`))
      .map(({ where, step }) => `${where}: ${step.uses}`);
    expect(bad).toEqual([]);
    const pins = new Set(ours.map(({ step }) => step.uses.split('@')[1]));
    expect([...pins]).toEqual([major]);
  });

  test('another action is pinned to one version across the README, docs/ and .github/workflows', () => {
    const seen = new Map<string, Set<string>>();
    const note = (uses: string) => {
      const [name, ver] = uses.split('@');
      if (!ver || name.startsWith(ACTION) || name.startsWith('.')) return;
      seen.set(name, (seen.get(name) ?? new Set()).add(ver));
    };
    for (const { step } of usesSteps) note(step.uses);
    for (const f of readdirSync(path.join(ROOT, '.github/workflows')))
      for (const m of mappings(loadYaml(read(`.github/workflows/${f}`)))) if (typeof m.uses === 'string') note(m.uses);
    // The migration guide shows the five-step setup it replaces, with its own versions.
    const before = new Set(['docker/setup-buildx-action', 'docker/login-action', 'docker/metadata-action', 'docker/build-push-action', 'actions/cache']);
    const split = [...seen].filter(([name, vers]) => !before.has(name) && vers.size > 1).map(([name, vers]) => `${name}@${[...vers].join(', @')}`);
    expect(split).toEqual([]);
  });

  test('the Node runtime the README names is the one action.yml runs on', () => {
    const named = [...README.matchAll(/runs\.using: (node\d+)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named)).toEqual(new Set([action.runs?.using]));
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks), -1, -2 for repeats. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const count = new Map<string, number>();
  const prose = text.replace(/^```[\s\S]*?^```$/gm, '');
  for (const m of prose.matchAll(/^#{1,6} (.+)$/gm)) {
    const s = slug(m[1]);
    const n = count.get(s) ?? 0;
    count.set(s, n + 1);
    out.add(n ? `${s}-${n}` : s);
  }
  return out;
}

describe('links', () => {
  const links = Object.entries(DOCS).flatMap(([file, text]) =>
    [...text.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1])
      .filter((l) => !/^[a-z]+:/.test(l))
      .map((l) => ({ file, link: l })),
  );

  test('every relative link of the README and docs/ names a file or folder that exists', () => {
    const broken = links
      .filter(({ link }) => !link.startsWith('#'))
      .filter(({ file, link }) => !existsSync(path.join(ROOT, path.dirname(file), link.split('#')[0])))
      .map(({ file, link }) => `${file}: ${link}`);
    expect(broken).toEqual([]);
    expect(links.length).toBeGreaterThan(5);
  });

  test('every #anchor names a heading of its target', () => {
    const broken = links
      .filter(({ link }) => link.includes('#'))
      .filter(({ file, link }) => {
        const [target, anchor] = link.split('#');
        const rel = target ? path.join(path.dirname(file), target) : file;
        if (!rel.endsWith('.md') || !existsSync(path.join(ROOT, rel))) return false; // a missing file is the test above's
        return !anchors(read(rel)).has(anchor);
      })
      .map(({ file, link }) => `${file}: ${link}`);
    expect(broken).toEqual([]);
  });

  test('the anchor rule: the table of contents entries of headings with punctuation', () => {
    expect(slug("GHCR with the job's token")).toBe('ghcr-with-the-jobs-token');
    expect(slug('Job summary, logs and errors')).toBe('job-summary-logs-and-errors');
    expect(slug("With GitHub's local runner, `@github/local-action`")).toBe('with-githubs-local-runner-githublocal-action');
    expect([...anchors('# A\n```\n# B\n```\n## A\n')]).toEqual(['a', 'a-1']);
  });
});

describe('commands', () => {
  test('every `npm run X` and `npm test` the README and docs/ name is a script of package.json', () => {
    const named = new Set<string>();
    for (const text of Object.values(DOCS)) {
      for (const m of text.matchAll(/\bnpm run ([a-z][a-z0-9:-]*)/g)) named.add(m[1]);
      if (/\bnpm test\b/.test(text)) named.add('test');
    }
    expect(named.size).toBeGreaterThan(0);
    expect([...named].filter((s) => !(s in pkg.scripts))).toEqual([]);
  });

  test('the files the scripts run exist', () => {
    const missing = Object.entries<string>(pkg.scripts).flatMap(([name, cmd]) =>
      [...cmd.matchAll(/\b(?:node|bash) ((?:scripts|src)\/\S+)/g)]
        .map((m) => m[1])
        .filter((f) => !existsSync(path.join(ROOT, f)))
        .map((f) => `${name}: ${f}`),
    );
    expect(missing).toEqual([]);
  });
});
