// Tags and labels through the bundled action: docker/metadata-action rule sets pasted unchanged give the tags,
// version and labels metadata-action documents, with `dry-run: true` (no Docker needed).
import { jest } from '@jest/globals';
import { actionNodeFor, runAction, tempDir, DEFAULT_PAYLOAD, expectExit0 } from './harness.js';

jest.setTimeout(5 * 60 * 1000);

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37';
const IMAGE = 'ghcr.io/acme/app';

interface Row {
  name: string;
  event: string;
  ref: string;
  inputs: Record<string, string>;
  payload?: Record<string, any>;
  tags: string[];
  version: string;
}

const SEMVER_RULES = ['type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}'].join('\n');

const rows: Row[] = [
  { name: 'push to the default branch: the branch name, no latest', event: 'push', ref: 'refs/heads/main', inputs: {}, tags: ['main'], version: 'main' },
  { name: 'push to a branch with a slash', event: 'push', ref: 'refs/heads/feature/login', inputs: {}, tags: ['feature-login'], version: 'feature-login' },
  {
    name: 'git tag with the default rules: the tag as is, and latest',
    event: 'push',
    ref: 'refs/tags/v1.2.3',
    inputs: {},
    tags: ['v1.2.3', 'latest'],
    version: 'v1.2.3',
  },
  {
    name: 'git tag with semver rules',
    event: 'push',
    ref: 'refs/tags/v1.2.3',
    inputs: { tags: SEMVER_RULES },
    tags: ['1.2.3', '1.2', '1', 'latest'],
    version: '1.2.3',
  },
  {
    name: 'semver pre-release: only the full version, no latest',
    event: 'push',
    ref: 'refs/tags/v2.0.0-rc.1',
    inputs: { tags: SEMVER_RULES },
    tags: ['2.0.0-rc.1'],
    version: '2.0.0-rc.1',
  },
  {
    name: 'pull request: pr-N',
    event: 'pull_request',
    ref: 'refs/pull/15/merge',
    inputs: {},
    payload: { ...DEFAULT_PAYLOAD, number: 15, pull_request: { number: 15, head: { ref: 'fix', sha: SHA }, base: { ref: 'main' } } },
    tags: ['pr-15'],
    version: 'pr-15',
  },
  { name: 'schedule: nightly and the branch', event: 'schedule', ref: 'refs/heads/main', inputs: {}, tags: ['nightly', 'main'], version: 'nightly' },
  {
    name: 'sha and raw rules',
    event: 'push',
    ref: 'refs/heads/main',
    inputs: { tags: 'type=sha\ntype=raw,value=stable' },
    tags: ['stable', 'sha-860c190'],
    version: 'stable',
  },
  {
    name: 'edge on the default branch, with flavor prefix and latest=true',
    event: 'push',
    ref: 'refs/heads/main',
    inputs: { tags: 'type=edge', flavor: 'latest=true\nprefix=v-' },
    tags: ['v-edge', 'latest'],
    version: 'v-edge',
  },
];

describe('tags from the git ref through dist/ in dry-run', () => {
  test.each(rows)('$name', async (row) => {
    const ws = await tempDir('meta');
    const r = await runAction({
      workspace: ws,
      inputs: { images: IMAGE, 'dry-run': 'true', cache: 'false', ...row.inputs },
      event: row.event,
      ref: row.ref,
      sha: SHA,
      payload: row.payload ?? DEFAULT_PAYLOAD,
    });
    expectExit0(r);
    expect(r.outputs.tags.split('\n')).toEqual(row.tags.map((t) => `${IMAGE}:${t}`));
    expect(r.outputs.version).toBe(row.version);
    const json = JSON.parse(r.outputs.json);
    expect(json.tags).toEqual(row.tags.map((t) => `${IMAGE}:${t}`));
    expect(json.labels['org.opencontainers.image.version']).toBe(row.version);
    expect(json.labels['org.opencontainers.image.revision']).toBe(SHA);
    expect(json.labels['org.opencontainers.image.source']).toBe('https://github.com/acme/app');
    expect(r.log).toMatch(/Dry run: docker buildx build/);
  });

  test('labels: user labels override the OCI ones by key; SOURCE_DATE_EPOCH fixes created', async () => {
    const r = await runAction({
      workspace: await tempDir('meta'),
      inputs: { images: IMAGE, 'dry-run': 'true', labels: 'org.opencontainers.image.title=Custom\nmaintainer=team' },
      sha: SHA,
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    const labels = r.outputs.labels.split('\n');
    expect(labels).toContain('org.opencontainers.image.title=Custom');
    expect(labels).toContain('maintainer=team');
    expect(labels).toContain('org.opencontainers.image.created=2023-11-14T22:13:20.000Z');
    expect(labels.filter((l) => l.startsWith('org.opencontainers.image.title='))).toHaveLength(1);
  });

  test('an unknown rule type fails with one line quoting the rule', async () => {
    const r = await runAction({
      workspace: await tempDir('meta'),
      inputs: { images: IMAGE, 'dry-run': 'true', tags: 'type=semvr,pattern={{version}}' },
      sha: SHA,
    });
    expect(r.main.exitCode).toBe(1);
    const errors = r.main.annotations.filter((a) => a.level === 'error');
    expect(errors.map((e) => e.message)).toEqual(['tags: unknown type "semvr" in "type=semvr,pattern={{version}}"']);
  });
});

test('the action runs on the Node that runs.using names (node24), and its log says which', async () => {
  const node = actionNodeFor();
  if (!node.overridden) expect(node.version).toMatch(/^v24\./);
  const r = await runAction({ workspace: await tempDir('ws'), inputs: { images: IMAGE, 'dry-run': 'true' } });
  expectExit0(r);
  expect(r.main.log).toContain(`Running on Node.js ${node.version}.`);
});
