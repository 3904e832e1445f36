// The other outputs: tag names, json, annotations (levels), label overrides, dates, warnings.
import { describe, expect, test } from '@jest/globals';
import { planMeta, type MetaFacts, type MetaInput } from '../../src/meta/index.js';
import { defaultBranchOf } from '../../src/context.js';
import { eventContext, type EventKind } from './helpers/context.js';

const NOW = new Date('2020-01-10T00:30:00.000Z');
const DEV = '860c1904a1ce19322e91ac35af1ab07466440c37';

function plan(event: EventKind, input: Partial<MetaInput>, facts: Partial<MetaFacts> = {}, ref?: string) {
  const ctx = eventContext(event, { ref });
  return planMeta({ images: 'user/app', tags: '', flavor: '', labels: '', annotations: '', ...input }, ctx, {
    now: NOW,
    defaultBranch: defaultBranchOf(ctx),
    ...facts,
  });
}

const OCI_DEV = {
  'org.opencontainers.image.created': '2020-01-10T00:30:00.000Z',
  'org.opencontainers.image.description': 'This your first repo!',
  'org.opencontainers.image.licenses': 'MIT',
  'org.opencontainers.image.revision': DEV,
  'org.opencontainers.image.source': 'https://github.com/octocat/Hello-World',
  'org.opencontainers.image.title': 'Hello-World',
  'org.opencontainers.image.url': 'https://github.com/octocat/Hello-World',
};

const lines = (level: string, record: Record<string, string>): string[] => Object.entries(record).map(([k, v]) => `${level}:${k}=${v}`);

describe('json (metadata-action json01, json03, json07)', () => {
  // metadata-action drops a label line without "=" (json01's `invalid`, json07's `foo`); this action
  // refuses it (see meta-inputs.test.ts), so those lines are left out here.
  test('json01: `foo=` is kept empty', () => {
    const res = plan('push_dev', { tags: 'type=ref,event=branch\ntype=raw,my\ntype=raw,custom\ntype=raw,tags', labels: 'foo=' });
    const labels = { foo: '', ...OCI_DEV, 'org.opencontainers.image.version': 'dev' };
    expect(res.json).toEqual({
      tags: ['user/app:dev', 'user/app:my', 'user/app:custom', 'user/app:tags'],
      'tag-names': ['dev', 'my', 'custom', 'tags'],
      labels,
      annotations: lines('manifest', { ...OCI_DEV, 'org.opencontainers.image.version': 'dev' }),
    });
    expect(Object.keys(res.json.labels)).toEqual(Object.keys(labels));
  });

  test('json03: tag names include latest', () => {
    const res = plan('push_tag', { tags: 'type=ref,event=tag\ntype=raw,my\ntype=raw,custom\ntype=raw,tags' }, {}, 'refs/tags/release1');
    expect(res.tagNames).toEqual(['release1', 'my', 'custom', 'tags', 'latest']);
    expect(res.json['tag-names']).toEqual(res.tagNames);
    expect(res.json.tags).toEqual(['user/app:release1', 'user/app:my', 'user/app:custom', 'user/app:tags', 'user/app:latest']);
  });

  test('json07: label values keep every = after the first; annotations ignore labels', () => {
    const res = plan('push_tag', {
      images: 'org/app',
      labels:
        'maintainer=CrazyMax\norg.opencontainers.image.title=MyCustom=Title\norg.opencontainers.image.description=Another description\norg.opencontainers.image.vendor=MyCompany',
    });
    expect(res.json.labels).toEqual({
      maintainer: 'CrazyMax',
      ...OCI_DEV,
      'org.opencontainers.image.description': 'Another description',
      'org.opencontainers.image.title': 'MyCustom=Title',
      'org.opencontainers.image.vendor': 'MyCompany',
      'org.opencontainers.image.version': 'v1.1.1',
    });
    expect(res.annotations).toEqual(lines('manifest', { ...OCI_DEV, 'org.opencontainers.image.version': 'v1.1.1' }));
  });
});

describe('annotations', () => {
  test('latest09: the annotations input overrides by key', () => {
    const res = plan('push_tag', {
      tags: 'type=ref,event=tag',
      flavor: 'latest=false',
      labels: 'maintainer=CrazyMax',
      annotations:
        'maintainer=Foo\norg.opencontainers.image.description=this is a "bad" example\norg.opencontainers.image.title=MyNotTitle\norg.opencontainers.image.vendor=MyNotCompany',
    });
    expect(res.annotations).toEqual([
      'manifest:maintainer=Foo',
      'manifest:org.opencontainers.image.created=2020-01-10T00:30:00.000Z',
      'manifest:org.opencontainers.image.description=this is a "bad" example',
      'manifest:org.opencontainers.image.licenses=MIT',
      `manifest:org.opencontainers.image.revision=${DEV}`,
      'manifest:org.opencontainers.image.source=https://github.com/octocat/Hello-World',
      'manifest:org.opencontainers.image.title=MyNotTitle',
      'manifest:org.opencontainers.image.url=https://github.com/octocat/Hello-World',
      'manifest:org.opencontainers.image.vendor=MyNotCompany',
      'manifest:org.opencontainers.image.version=v1.1.1',
    ]);
    expect(res.labels[0]).toBe('maintainer=CrazyMax');
  });

  test('levels (DOCKER_METADATA_ANNOTATIONS_LEVELS): level by level', () => {
    const res = plan('push_dev', { tags: 'type=ref,event=branch\ntype=raw,my' }, { annotationLevels: ['index', 'manifest-descriptor'] });
    const oci = { ...OCI_DEV, 'org.opencontainers.image.version': 'dev' };
    expect(res.annotations).toEqual([...lines('index', oci), ...lines('manifest-descriptor', oci)]);
    expect(res.json.annotations).toEqual(res.annotations);
  });
});

describe('labels', () => {
  test('expressions in labels are rendered', () => {
    const res = plan('push_dev', { labels: 'build.branch={{branch}}\nbuild.sha={{sha}}' });
    expect(res.labels.slice(0, 2)).toEqual(['build.branch=dev', 'build.sha=860c190']);
  });

  test('a quoted label may hold a comma; an unquoted one keeps it too', () => {
    const res = plan('push_dev', { labels: '"org.opencontainers.image.description=a, b"\nfoo=x,y' });
    expect(res.json.labels['org.opencontainers.image.description']).toBe('a, b');
    expect(res.json.labels.foo).toBe('x,y');
  });

  test('a repository without description or license gives empty values', () => {
    const ctx = eventContext('push_dev');
    ctx.payload.repository = { name: 'app', html_url: 'https://github.com/o/app', description: null, license: null, default_branch: 'main' };
    const res = planMeta({ images: 'o/app', tags: '', flavor: '', labels: '', annotations: '' }, ctx, { now: NOW, defaultBranch: 'main' });
    expect(res.json.labels['org.opencontainers.image.description']).toBe('');
    expect(res.json.labels['org.opencontainers.image.licenses']).toBe('');
    expect(res.json.labels['org.opencontainers.image.title']).toBe('app');
  });
});

describe('dates', () => {
  test('SOURCE_DATE_EPOCH sets created; {{date}} stays the current date', () => {
    const res = plan('push_dev', { tags: "type=raw,value={{date 'YYYYMMDD'}}" }, { sourceDateEpoch: 1700000000 });
    expect(res.json.labels['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20.000Z');
    expect(res.version).toBe('20200110');
  });

  test('{{commit_date}} reads the pushed commit from the payload', () => {
    const ctx = eventContext('push_dev');
    ctx.payload.commits = [{ id: DEV, timestamp: '2019-05-04T10:20:30Z' }];
    const res = planMeta({ images: '', tags: "type=raw,value={{commit_date 'YYYYMMDD-HHmmss'}}", flavor: '', labels: '', annotations: '' }, ctx, { now: NOW });
    expect(res.tags).toEqual(['20190504-102030']);
  });

  test('{{commit_date}} falls back to facts.commitDate, then to now', () => {
    const tags = "type=raw,value={{commit_date 'YYYYMMDD'}}";
    expect(plan('pull_request', { tags }, { commitDate: new Date('2019-01-02T03:04:05Z') }).version).toBe('20190102');
    expect(plan('pull_request', { tags }).version).toBe('20200110');
  });

  test('{{date}} with a time zone', () => {
    expect(plan('push_dev', { tags: "type=raw,value={{date 'YYYYMMDD-HHmm' tz='America/New_York'}}" }).version).toBe('20200109-1930');
  });
});

describe('warnings (metadata-action logs these and goes on)', () => {
  test.each<[string, string, string]>([
    ['refs/tags/release1', 'type=semver,pattern={{version}}', 'release1 is not a valid semver. More info: https://semver.org/'],
    ['refs/tags/release1', 'type=pep440,pattern={{version}}', 'release1 does not conform to PEP 440. More info: https://www.python.org/dev/peps/pep-0440'],
    ['refs/tags/sometag', String.raw`type=match,"pattern=\d.\d"`, String.raw`\d.\d does not match sometag.`],
    ['refs/tags/p1/v1.0.0', String.raw`type=match,pattern=p1/v(\d.\d),group=3`, String.raw`Group 3 does not exist for p1/v(\d.\d) pattern.`],
  ])('%s %s', (ref, tags, warning) => {
    const res = plan('push_tag', { tags }, {}, ref);
    expect(res.warnings).toEqual([warning]);
    expect(res.tags).toEqual([]);
    expect(res.version).toBe('');
  });

  test('no warnings when every rule is usable', () => {
    expect(plan('push_tag', { tags: 'type=semver,pattern={{version}}' }).warnings).toEqual([]);
  });
});
