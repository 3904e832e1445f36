// Parity with metadata-action and build-push-action: full image references in `tags`, the
// separators and DOCKER_METADATA_OUTPUT_* variables, {{is_not_default_branch}}, metadata-context: git
// (the detached-HEAD ref), and the refusal to push a run that has no tag.
import { describe, expect, test } from '@jest/globals';
import { planMeta, type MetaInput } from '../../src/meta/index.js';
import { InputError } from '../../src/input-error.js';
import { looksLikeReference, parseReference, splitLiteralRefs } from '../../src/meta/literal.js';
import { metaOutputs, outputEnv, outputEnvName, outputEnvEnabled } from '../../src/meta/outputs.js';
import { refFromDecorations } from '../../src/meta/git.js';
import { readInputs } from '../../src/inputs.js';
import { planRun, resolveMeta, dockerfileOf } from '../../src/plan.js';
import { defaultBranchOf } from '../../src/context.js';
import { eventContext } from './helpers/context.js';
import { thrown } from './helpers/thrown.js';

const NOW = new Date('2020-01-10T00:30:00.000Z');
const get = (extra: Record<string, string>) => (n: string) => ({ images: 'user/app', push: 'false', ...extra })[n] ?? '';

function plan(input: Partial<MetaInput>, event: Parameters<typeof eventContext>[0] = 'push_dev', ref?: string) {
  const ctx = eventContext(event, { ref });
  return planMeta({ images: 'user/app', tags: '', flavor: '', labels: '', annotations: '', ...input }, ctx, { now: NOW, defaultBranch: defaultBranchOf(ctx) });
}

describe("full image references in tags (build-push-action's form) are taken as written", () => {
  test.each<[string, boolean]>([
    ['ghcr.io/acme/app:1.0', true],
    ['user/app', true],
    ['localhost:5000/app', true],
    ['latest', false],
    ['type=raw,value=a/b', false],
    ["{{date 'HH:mm'}}", false],
    ['# ghcr.io/acme/app:1.0', false],
  ])('%j looks like a reference: %s', (line, want) => expect(looksLikeReference(line)).toBe(want));

  test.each<[string, { name: string; tag: string }]>([
    ['ghcr.io/acme/app:1.0', { name: 'ghcr.io/acme/app', tag: '1.0' }],
    ['user/app', { name: 'user/app', tag: 'latest' }],
    ['localhost:5000/app', { name: 'localhost:5000/app', tag: 'latest' }],
    ['127.0.0.1:5000/e2e/x:v1.2.3-rc_1', { name: '127.0.0.1:5000/e2e/x', tag: 'v1.2.3-rc_1' }],
  ])('%s', (ref, want) => expect(parseReference(ref)).toEqual(want));

  test.each<[string, RegExp]>([
    ['ghcr.io/Acme/app:1', /^tags: image name "ghcr.io\/Acme\/app" in ".*" has upper-case letters \(Docker refuses them: write "ghcr.io\/acme\/app"\)$/],
    ['ghcr.io/acme/app@sha256:abc', /^tags: "ghcr.io\/acme\/app@sha256:abc" is a digest reference/],
    ['ghcr.io/acme/app:-x', /^tags: tag "-x" of "ghcr.io\/acme\/app:-x" is not a valid Docker tag/],
    ['ghcr.io//app:1', /^tags: "ghcr.io\/\/app:1" is neither a tag rule nor a full image reference/],
  ])('%s is refused naming tags', (ref, re) => {
    const err = thrown(() => parseReference(ref));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(re);
  });

  test('references and rules split line by line; a line mixing both is refused', () => {
    expect(splitLiteralRefs('type=ref,event=branch\nghcr.io/a/b:1, ghcr.io/a/b:2\n')).toEqual({
      rules: 'type=ref,event=branch\n',
      refs: [
        { name: 'ghcr.io/a/b', tag: '1' },
        { name: 'ghcr.io/a/b', tag: '2' },
      ],
    });
    expect(thrown(() => splitLiteralRefs('ghcr.io/a/b:1,type=sha')).message).toBe(
      'tags: "ghcr.io/a/b:1,type=sha" mixes a full image reference with something else: put each reference (name:tag) or rule on its own line',
    );
  });

  test('only references: exactly those tags (no default rules), the first tag is the version', () => {
    const res = plan({ images: '', tags: 'ghcr.io/acme/app:1.0\nghcr.io/acme/app:latest' });
    expect(res.tags).toEqual(['ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:latest']);
    expect(res.tagNames).toEqual(['1.0', 'latest']);
    expect(res.images).toEqual(['ghcr.io/acme/app']);
    expect(res.version).toBe('1.0');
    expect(res.labels).toContain('org.opencontainers.image.version=1.0');
  });

  test("references beside rules and images: the rules' tags first, then the references", () => {
    const res = plan({ tags: 'type=ref,event=branch\ndocker.io/acme/mirror:stable' });
    expect(res.tags).toEqual(['user/app:dev', 'docker.io/acme/mirror:stable']);
    expect(res.version).toBe('dev');
    expect(res.images).toEqual(['user/app', 'docker.io/acme/mirror']);
  });

  test('rules with no images beside references: refused, the rule tag would have no image name', () => {
    expect(thrown(() => plan({ images: '', tags: 'type=ref,event=branch\nghcr.io/a/b:1' })).message).toMatch(
      /^tags: the rules give the tag dev, but images is empty/,
    );
  });
});

describe('outputs: separators, tag-names, DOCKER_METADATA_OUTPUT_*', () => {
  const res = plan({ tags: 'type=ref,event=branch\ntype=sha', labels: 'a=1' });

  test('sep-tags joins tags and tag-names, sep-labels labels, sep-annotations annotations', () => {
    const out = metaOutputs(res, { tags: ',', labels: ';', annotations: '|' });
    expect(out.tags).toBe('user/app:dev,user/app:sha-860c190');
    expect(out['tag-names']).toBe('dev,sha-860c190');
    expect(out.labels.split(';')).toEqual(res.labels);
    expect(out.annotations.split('|')).toEqual(res.annotations);
    expect(JSON.parse(out.json)['tag-names']).toEqual(['dev', 'sha-860c190']);
    expect(Object.keys(out)).toEqual(['version', 'tags', 'tag-names', 'labels', 'annotations', 'json']);
  });

  test('the environment variables mirror the outputs, unless DOCKER_METADATA_SET_OUTPUT_ENV is false', () => {
    const out = metaOutputs(res, { tags: '\n', labels: '\n', annotations: '\n' });
    expect(outputEnvName('tag-names')).toBe('DOCKER_METADATA_OUTPUT_TAG_NAMES');
    expect(outputEnv(out, undefined)).toEqual({
      DOCKER_METADATA_OUTPUT_VERSION: 'dev',
      DOCKER_METADATA_OUTPUT_TAGS: out.tags,
      DOCKER_METADATA_OUTPUT_TAG_NAMES: out['tag-names'],
      DOCKER_METADATA_OUTPUT_LABELS: out.labels,
      DOCKER_METADATA_OUTPUT_ANNOTATIONS: out.annotations,
      DOCKER_METADATA_OUTPUT_JSON: out.json,
    });
    expect(outputEnv(out, 'false')).toEqual({});
  });

  test.each<[string | undefined, boolean]>([
    [undefined, true],
    ['', true],
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['0', false],
    ['f', false],
  ])('DOCKER_METADATA_SET_OUTPUT_ENV=%j -> %s', (v, want) => expect(outputEnvEnabled(v)).toBe(want));
  test('DOCKER_METADATA_SET_OUTPUT_ENV=maybe is refused naming it', () => {
    expect(thrown(() => outputEnvEnabled('maybe')).message).toBe('DOCKER_METADATA_SET_OUTPUT_ENV: expected true or false, got "maybe"');
  });

  test('the sep-* inputs are used as given (a space or a comma), a newline when empty', () => {
    const i = readInputs(get({ 'sep-tags': ' ', 'sep-labels': ',' }), {});
    expect([i.sepTags, i.sepLabels, i.sepAnnotations]).toEqual([' ', ',', '\n']);
  });
});

describe('{{is_default_branch}} and {{is_not_default_branch}}', () => {
  test.each<[string, string[]]>([
    ['refs/heads/master', ['yes']],
    ['refs/heads/dev', ['no']],
  ])('%s', (ref, want) => {
    const res = plan({ tags: 'type=raw,value=yes,enable={{is_default_branch}}\ntype=raw,value=no,enable={{is_not_default_branch}}' }, 'push_dev', ref);
    expect(res.tagNames).toEqual(want);
  });
});

describe('metadata-context', () => {
  test.each(['workflow', 'git', 'GIT', ''])('%j is accepted', (v) =>
    expect(readInputs(get({ 'metadata-context': v }), {}).metadataContext).toBe(v ? v.toLowerCase() : 'workflow'),
  );
  test('anything else is refused naming the input', () => {
    expect(thrown(() => readInputs(get({ 'metadata-context': 'repo' }), {})).message).toBe('metadata-context: expected one of workflow, git, got "repo"');
  });

  test.each<[string, string | undefined]>([
    ['HEAD, tag: v1.2.3, origin/main', 'refs/tags/v1.2.3'],
    ['grafted, HEAD, tag: v2.0.0', 'refs/tags/v2.0.0'],
    ['HEAD, pull/15/merge', 'refs/pull/15/merge'],
    ['HEAD, origin/pull/15/merge', 'refs/pull/15/merge'],
    ['HEAD, origin/feature/login, origin/HEAD', 'refs/heads/feature/login'],
    ['HEAD, main', 'refs/heads/main'],
    ['HEAD', undefined],
    ['', undefined],
  ])('detached HEAD decorations %j -> %s', (d, want) => expect(refFromDecorations(d)).toBe(want));

  test("git facts replace the workflow's ref, commit and commit date for the tags only", () => {
    const ctx = eventContext('push_dev');
    const inputs = readInputs(get({ tags: "type=ref,event=tag\ntype=sha\ntype=raw,value={{commit_date 'YYYYMMDD'}}" }), {});
    const git = { ref: 'refs/tags/v9.9.9', sha: 'b'.repeat(40), commitDate: new Date('2021-02-03T04:05:06Z') };
    const meta = resolveMeta(inputs, ctx, {}, git);
    expect(meta.tagNames).toEqual(['v9.9.9', '20210203', 'sha-bbbbbbb', 'latest']);
    expect(meta.labels).toContain(`org.opencontainers.image.revision=${'b'.repeat(40)}`);
  });
});

describe('no invalid tag, and no push without a tag', () => {
  test('a run whose rules give no tag (no ref, no event payload) is refused when it would push', () => {
    const ctx = { ...eventContext('push_dev'), ref: '', eventName: 'push', payload: {} };
    const err = thrown(() => planRun(readInputs(get({ push: 'true' }), {}), ctx, {}));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      'tags: no tag for this run (event "push", ref ""): no rule produced one, so there is nothing to push; add a rule that applies (e.g. type=sha or type=raw,value=latest), or set push: false',
    );
  });

  test("without a push it builds untagged, with metadata-action's warning", () => {
    const ctx = { ...eventContext('push_dev'), ref: '', payload: {} };
    const p = planRun(readInputs(get({ push: 'false' }), {}), ctx, {});
    expect(p.meta.tags).toEqual([]);
    expect(p.meta.warnings.join('\n')).toContain('No Docker tag has been generated');
  });

  test('a rendered tag Docker would refuse ("-" from empty expressions) is an error, never emitted', () => {
    const ctx = { ...eventContext('push_dev'), ref: '', sha: '' };
    expect(
      thrown(() => planMeta({ images: 'user/app', tags: 'type=raw,value={{branch}}-{{sha}}', flavor: '', labels: '', annotations: '' }, ctx, { now: NOW }))
        .message,
    ).toBe('tags: tag "-" starts with "-" (a Docker tag starts with a letter, digit or "_")');
  });
});

describe('the build context', () => {
  test('{{defaultContext}} is refused before any work, saying what to write', () => {
    expect(thrown(() => readInputs(get({ context: '{{defaultContext}}:docker' }), {})).message).toBe(
      'context: "{{defaultContext}}:docker": {{defaultContext}} (docker/build-push-action\'s Git context) is not expanded here; check out the repository and write context: docker, or give the Git URL',
    );
  });
  test('a Git context has its own Dockerfile (not <url>/Dockerfile)', () => {
    const i = readInputs(get({ context: 'https://github.com/acme/app.git#main' }), {});
    expect(dockerfileOf(i)).toBe('Dockerfile');
    expect(dockerfileOf({ ...i, context: 'sub' })).toBe('sub/Dockerfile');
  });
});

describe('the default context: the workspace, and a clear error when there is no checkout', () => {
  const files = { file: '', target: '', buildArgs: [] };
  async function ws(entries: Record<string, string>): Promise<string> {
    const { promises: fs } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'obc-ctx-'));
    for (const [p, c] of Object.entries(entries)) {
      await fs.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
      await fs.writeFile(path.join(dir, p), c);
    }
    return dir;
  }
  async function error(dir: string, context: string): Promise<InputError | undefined> {
    const { checkBuildFiles } = await import('../../src/inputs-files.js');
    return checkBuildFiles({ ...files, context }, dir, dir).then(
      () => undefined,
      (e) => e as InputError,
    );
  }

  test('an empty workspace (no .git, no Dockerfile): the checkout step is missing', async () => {
    const { NO_CHECKOUT } = await import('../../src/inputs-files.js');
    const err = await error(await ws({}), '.');
    expect(err?.input).toBe('context');
    expect(err?.message).toBe(`context: ${NO_CHECKOUT}`);
  });
  test('a checkout without a Dockerfile is the file error; a workspace with a Dockerfile builds', async () => {
    expect((await error(await ws({ '.git/HEAD': 'ref: refs/heads/main\n' }), '.'))?.input).toBe('file');
    expect(await error(await ws({ Dockerfile: 'FROM busybox\n' }), '.')).toBeUndefined();
  });
  test.each(['git', 'workflow'])("context: %s (metadata-action's values) says to write metadata-context", async (v) => {
    expect((await error(await ws({ Dockerfile: 'FROM busybox\n' }), v))?.message).toBe(
      `context: "${v}" is docker/metadata-action's context value; here context is the build context: write metadata-context: ${v}`,
    );
  });
});
