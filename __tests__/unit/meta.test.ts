// Tags, labels and version per event, table-driven. Expected values are metadata-action's: the rows
// named like `push07` or `tag11` carry over the cases of its test suite (same event, inputs and
// expected output); the others follow its README (sanitising, global expressions, events).
import { describe, expect, test } from '@jest/globals';
import { planMeta, type MetaFacts } from '../../src/meta/index.js';
import { defaultBranchOf } from '../../src/context.js';
import { eventContext, type EventKind } from './helpers/context.js';

const SHA = {
  dev: '860c1904a1ce19322e91ac35af1ab07466440c37',
  master: '266574110acf203503badf966df2ea24b5d732d7',
  invalid: '983315b5e8d46e46fc4c49869e85e7ee5fb289ba',
  pr: 'a9c8c5828b91be19d9728548b24759e352367ef1',
  prHead: '3370e228f2209994d57af4427fe64e71bb79ac96',
  mergeGroup: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
};

/** The commit each fixture reports (org.opencontainers.image.revision). */
const REVISION: Record<EventKind, string> = {
  empty: '',
  push_dev: SHA.dev,
  push_master: SHA.master,
  push_invalidchars: SHA.invalid,
  push_tag: SHA.dev,
  pull_request: SHA.pr,
  pull_request_target: SHA.master,
  schedule: SHA.dev,
  workflow_dispatch: SHA.dev,
  release: SHA.dev,
  merge_group: SHA.mergeGroup,
  workflow_run: SHA.master,
  create_tag: SHA.dev,
};

const NOW = new Date('2020-01-10T00:30:00.000Z');

/** metadata-action's generated labels, in its (sorted) output order. */
function oci(version: string, revision: string): string[] {
  return [
    'org.opencontainers.image.created=2020-01-10T00:30:00.000Z',
    'org.opencontainers.image.description=This your first repo!',
    'org.opencontainers.image.licenses=MIT',
    `org.opencontainers.image.revision=${revision}`,
    'org.opencontainers.image.source=https://github.com/octocat/Hello-World',
    'org.opencontainers.image.title=Hello-World',
    'org.opencontainers.image.url=https://github.com/octocat/Hello-World',
    `org.opencontainers.image.version=${version}`,
  ];
}

/** A `|` block: one entry per line. */
const lines = (...l: string[]): string => l.join('\n');
const TWO_IMAGES = lines('org/app', 'ghcr.io/user/app');
/** image:tag for every image, image by image. */
const refs = (images: string[], names: string[]): string[] => images.flatMap((i) => names.map((n) => `${i}:${n}`));
const both = (...names: string[]): string[] => refs(['org/app', 'ghcr.io/user/app'], names);
const user = (...names: string[]): string[] => refs(['user/app'], names);

interface Row {
  id: string;
  event: EventKind;
  /** Another ref on the same fixture (tags on push_tag). */
  ref?: string;
  images?: string;
  tags?: string;
  flavor?: string;
  labels?: string;
  facts?: Partial<MetaFacts>;
  version: string;
  expectTags: string[];
  /** Defaults to the generated labels for `version` and the fixture's commit. */
  expectLabels?: string[];
}

function run(row: Row) {
  const ctx = eventContext(row.event, { ref: row.ref });
  return planMeta({ images: row.images ?? 'user/app', tags: row.tags ?? '', flavor: row.flavor ?? '', labels: row.labels ?? '', annotations: '' }, ctx, {
    now: NOW,
    defaultBranch: defaultBranchOf(ctx),
    ...row.facts,
  });
}

function check(row: Row): void {
  const res = run(row);
  expect(res.version).toBe(row.version);
  expect(res.tags).toEqual(row.expectTags);
  expect(res.labels).toEqual(row.expectLabels ?? oci(row.version, REVISION[row.event]));
}

const tagRef = (tag: string): string => `refs/tags/${tag}`;

describe('no ref, no commit', () => {
  test.each<Row>([
    { id: 'null01', event: 'empty', version: '', expectTags: [] },
    { id: 'null02', event: 'empty', tags: lines('type=sha', 'type=raw,{{branch}}'), version: '', expectTags: [] },
  ])('$id', check);
});

describe('push to a branch', () => {
  test.each<Row>([
    { id: 'push01', event: 'push_dev', version: 'dev', expectTags: ['user/app:dev'] },
    { id: 'push02', event: 'push_master', tags: 'type=edge', version: 'edge', expectTags: ['user/app:edge'] },
    { id: 'push03', event: 'push_master', version: 'master', expectTags: ['user/app:master'] },
    { id: 'push05', event: 'push_dev', images: TWO_IMAGES, version: 'dev', expectTags: ['org/app:dev', 'ghcr.io/user/app:dev'] },
    { id: 'push06', event: 'push_master', images: TWO_IMAGES, tags: 'type=edge', version: 'edge', expectTags: both('edge') },
    {
      id: 'push07',
      event: 'push_dev',
      images: TWO_IMAGES,
      tags: lines('type=ref,event=branch', 'type=sha'),
      version: 'dev',
      expectTags: ['org/app:dev', 'org/app:sha-860c190', 'ghcr.io/user/app:dev', 'ghcr.io/user/app:sha-860c190'],
    },
    { id: 'push08', event: 'push_master', images: TWO_IMAGES, tags: lines('type=edge', 'type=sha'), version: 'edge', expectTags: both('edge', 'sha-2665741') },
    {
      id: 'push09',
      event: 'push_dev',
      images: TWO_IMAGES,
      tags: lines('type=edge,branch=dev', 'type=sha'),
      version: 'edge',
      expectTags: both('edge', 'sha-860c190'),
    },
    {
      id: 'push10',
      event: 'push_master',
      images: TWO_IMAGES,
      tags: lines('type=edge,branch=dev', 'type=sha'),
      version: 'sha-2665741',
      expectTags: both('sha-2665741'),
    },
    {
      id: 'push11',
      event: 'push_invalidchars',
      images: TWO_IMAGES,
      tags: lines('type=edge', 'type=sha'),
      version: 'sha-983315b',
      expectTags: both('sha-983315b'),
    },
    {
      id: 'push12',
      event: 'push_invalidchars',
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{version}}', 'type=pep440,pattern={{version}}', 'type=edge'),
      version: '',
      expectTags: [],
    },
    {
      id: 'push13',
      event: 'push_master',
      tags: lines('type=ref,priority=2000,event=branch', 'type=edge'),
      version: 'master',
      expectTags: user('master', 'edge'),
    },
    {
      id: 'push14',
      event: 'push_master',
      tags: lines('type=semver,pattern={{version}},value=v1.2.3', 'type=pep440,pattern={{version}},value=v1.2.3', 'type=edge'),
      version: '1.2.3',
      expectTags: user('1.2.3', 'edge', 'latest'),
    },
    {
      id: 'push15',
      event: 'push_master',
      tags: lines('type=match,pattern=v(.*),group=1,value=v1.2.3', 'type=edge'),
      version: '1.2.3',
      expectTags: user('1.2.3', 'edge', 'latest'),
    },
    {
      id: 'push16',
      event: 'push_master',
      tags: lines('type=match,enable=false,pattern=v(.*),group=1,value=v1.2.3', 'type=edge'),
      version: 'edge',
      expectTags: user('edge'),
    },
    {
      id: 'push17',
      event: 'push_master',
      tags: lines(
        'type=raw,value=mytag-{{branch}}',
        "type=raw,value=mytag-{{date 'YYYYMMDD'}}",
        "type=raw,value=mytag-cd-{{commit_date 'YYYYMMDD'}}",
        "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
        'type=raw,value=mytag-tag-{{tag}}',
        'type=raw,value=mytag-baseref-{{base_ref}}',
        'type=raw,value=mytag-defbranch,enable={{is_default_branch}}',
      ),
      version: 'mytag-master',
      expectTags: user('mytag-master', 'mytag-20200110', 'mytag-cd-20200110', 'mytag-20200110-093000', 'mytag-tag-', 'mytag-baseref-', 'mytag-defbranch'),
    },
    {
      id: 'push18',
      event: 'push_dev',
      images: TWO_IMAGES,
      tags: lines('type=ref,event=branch', 'type=sha,format=long'),
      version: 'dev',
      expectTags: both('dev', `sha-${SHA.dev}`),
    },
    {
      id: 'push19',
      event: 'push_dev',
      images: TWO_IMAGES,
      tags: lines(
        'type=edge,branch=master',
        'type=ref,event=branch,enable=false',
        'type=sha,format=long',
        'type=raw,value=defbranch,enable={{is_default_branch}}',
      ),
      version: `sha-${SHA.dev}`,
      expectTags: both(`sha-${SHA.dev}`),
    },
    {
      id: 'push20',
      event: 'push_dev',
      images: lines('org/app', 'ghcr.io/user/app,enable=false'),
      tags: lines('type=edge,branch=master', 'type=ref,event=branch,enable=false', 'type=sha,format=long'),
      version: `sha-${SHA.dev}`,
      expectTags: [`org/app:sha-${SHA.dev}`],
    },
    {
      id: 'push21',
      event: 'push_master',
      images: '',
      tags: lines(
        'type=raw,value=mytag-{{branch}}',
        "type=raw,value=mytag-{{date 'YYYYMMDD'}}",
        "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
        "type=raw,value=mytag-src-{{commit_date 'YYYYMMDD'}}",
        'type=raw,value=mytag-tag-{{tag}}',
        'type=raw,value=mytag-baseref-{{base_ref}}',
        'type=raw,value=mytag-defbranch,enable={{is_default_branch}}',
      ),
      labels: "org.opencontainers.image.created={{commit_date 'YYYY-MM-DDTHH:mm:ss.SSS[Z]'}}",
      version: 'mytag-master',
      expectTags: ['mytag-master', 'mytag-20200110', 'mytag-20200110-093000', 'mytag-src-20200110', 'mytag-tag-', 'mytag-baseref-', 'mytag-defbranch'],
    },
    {
      id: 'push22',
      event: 'push_dev',
      images: 'org/app',
      tags: lines('type=edge,branch=master', 'type=sha,format=long', 'type=raw,value=notdefbranch,enable={{is_not_default_branch}}'),
      version: 'notdefbranch',
      expectTags: ['org/app:notdefbranch', `org/app:sha-${SHA.dev}`],
    },
    {
      id: 'push35',
      event: 'push_master',
      tags: lines(
        String.raw`type=semver,pattern={{version}},value=p1/v1.2.3,"match=v(\d.\d.\d)$"`,
        String.raw`type=pep440,pattern={{version}},value=p1/v1.2.3,"match=v(\d.\d.\d)$"`,
        'type=edge',
      ),
      version: '1.2.3',
      expectTags: user('1.2.3', 'edge', 'latest'),
    },
    // README "Image name and tag sanitization": runs of invalid characters become `-`
    { id: 'branch with / and #', event: 'push_invalidchars', version: 'my-feature-1245', expectTags: ['user/app:my-feature-1245'] },
    { id: 'edge needs the default branch', event: 'push_dev', tags: 'type=edge', version: '', expectTags: [] },
    {
      id: 'edge: facts.defaultBranch wins',
      event: 'push_dev',
      tags: 'type=edge',
      facts: { defaultBranch: 'dev' },
      version: 'edge',
      expectTags: ['user/app:edge'],
    },
    { id: 'latest=true on a branch', event: 'push_dev', flavor: 'latest=true', version: 'dev', expectTags: user('dev', 'latest') },
    {
      id: 'latest=auto: branch never latest',
      event: 'push_master',
      tags: lines('type=ref,event=branch', 'type=raw,value=foo'),
      version: 'master',
      expectTags: user('master', 'foo'),
    },
    {
      id: 'flavor prefix renders expressions',
      event: 'push_dev',
      tags: lines('type=raw,value=foo', 'type=sha'),
      flavor: lines('prefix={{branch}}-', 'suffix=-x'),
      version: 'dev-foo-x',
      // type=sha has its own prefix (sha-) so only the flavor suffix applies
      expectTags: user('dev-foo-x', 'sha-860c190-x'),
    },
    { id: 'sanitised raw value', event: 'push_dev', tags: 'type=raw,value=foo  bar/baz:1', version: 'foo-bar-baz-1', expectTags: ['user/app:foo-bar-baz-1'] },
    {
      // Handlebars escapes HTML in {{...}} (as in metadata-action), then sanitising applies
      id: 'expression output is HTML-escaped',
      event: 'push_dev',
      ref: 'refs/heads/feat/a&b',
      tags: lines('type=ref,event=branch', 'type=raw,value={{branch}}'),
      version: 'feat-a-b',
      expectTags: user('feat-a-b', 'feat-a-amp-b'),
    },
    {
      id: 'same tag twice is kept once',
      event: 'push_dev',
      tags: lines('type=ref,event=branch', 'type=raw,value=dev', 'type=raw,value=x', 'type=raw,value=x'),
      version: 'dev',
      expectTags: user('dev', 'x'),
    },
    {
      id: 'short sha length',
      event: 'push_dev',
      tags: 'type=sha',
      facts: { shortShaLength: 12 },
      version: 'sha-860c1904a1ce',
      expectTags: ['user/app:sha-860c1904a1ce'],
    },
    {
      id: 'sha prefix and suffix',
      event: 'push_dev',
      tags: 'type=sha,prefix=,suffix=-{{branch}}',
      version: '860c190-dev',
      expectTags: ['user/app:860c190-dev'],
    },
  ])('$id', check);
});

describe('images', () => {
  test.each<Row>([
    { id: 'comma-separated line', event: 'push_dev', images: 'org/app,ghcr.io/user/app', version: 'dev', expectTags: both('dev') },
    { id: 'comment line', event: 'push_dev', images: lines('org/app', '#ghcr.io/user/app'), version: 'dev', expectTags: ['org/app:dev'] },
    {
      id: 'name= attribute, lowercased',
      event: 'push_dev',
      images: 'name=ghcr.io/MyUSER/MyApp,enable=true',
      version: 'dev',
      expectTags: ['ghcr.io/myuser/myapp:dev'],
    },
    { id: 'registry with port', event: 'push_dev', images: 'localhost:5000/name/app', version: 'dev', expectTags: ['localhost:5000/name/app:dev'] },
    // no enabled image: metadata-action then outputs the bare tag names
    { id: 'every image disabled', event: 'push_dev', images: 'name=user/app,enable=false', version: 'dev', expectTags: ['dev'] },
    { id: 'no images', event: 'push_dev', images: '', version: 'dev', expectTags: ['dev'] },
  ])('$id', check);

  test('images output lists the enabled names, lowercased', () => {
    const res = run({
      id: '',
      event: 'push_dev',
      images: lines('Org/App', 'ghcr.io/user/app,enable=false', 'name=Docker.io/X/Y'),
      version: '',
      expectTags: [],
    });
    expect(res.images).toEqual(['org/app', 'docker.io/x/y']);
  });
});

describe('git tag', () => {
  test.each<Row>([
    { id: 'tag01', event: 'push_tag', ref: tagRef('release1'), version: 'release1', expectTags: user('release1', 'latest') },
    { id: 'tag02', event: 'push_tag', ref: tagRef('20200110-RC2'), version: '20200110-RC2', expectTags: user('20200110-RC2', 'latest') },
    {
      id: 'tag03',
      event: 'push_tag',
      ref: tagRef('20200110-RC2'),
      tags: String.raw`type=match,pattern=\d{8}`,
      flavor: 'latest=false',
      version: '20200110',
      expectTags: user('20200110'),
    },
    {
      id: 'tag04',
      event: 'push_tag',
      ref: tagRef('20200110-RC2'),
      tags: 'type=match,pattern=(.*)-RC,group=1',
      flavor: 'latest=false',
      version: '20200110',
      expectTags: user('20200110'),
    },
    {
      id: 'tag05',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: String.raw`type=match,"pattern=\d.\d.\d"`,
      version: '1.1.1',
      expectTags: both('1.1.1', 'latest'),
    },
    {
      id: 'tag06',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: String.raw`type=match,"pattern=^v(\d.\d.\d)$",group=1`,
      version: '1.1.1',
      expectTags: both('1.1.1', 'latest'),
    },
    {
      id: 'tag07',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: String.raw`type=match,"pattern=\d.\d.\d-(alpha|beta).\d+"`,
      version: '2.0.8-beta.67',
      expectTags: both('2.0.8-beta.67', 'latest'),
    },
    {
      id: 'tag08',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: String.raw`type=match,"pattern=\d.\d"`,
      version: '2.0',
      expectTags: both('2.0', 'latest'),
    },
    {
      id: 'tag09',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: lines('type=match,"pattern=v(.*)-beta.(.*)",group=1', 'type=match,"pattern=v(.*)-beta.(.*)",group=2'),
      version: '2.0.8',
      expectTags: both('2.0.8', '67', 'latest'),
    },
    { id: 'tag10', event: 'push_tag', ref: tagRef('sometag'), images: TWO_IMAGES, tags: String.raw`type=match,"pattern=\d.\d"`, version: '', expectTags: [] },
    {
      id: 'tag11',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}'),
      version: '1.1.1',
      expectTags: [
        'org/app:1.1.1',
        'org/app:1.1',
        'org/app:1',
        'org/app:latest',
        'ghcr.io/user/app:1.1.1',
        'ghcr.io/user/app:1.1',
        'ghcr.io/user/app:1',
        'ghcr.io/user/app:latest',
      ],
    },
    {
      id: 'tag12',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}.{{patch}}'),
      version: '1.1.1',
      expectTags: both('1.1.1', 'latest'),
    },
    {
      id: 'tag13',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}'),
      version: '2.0.8-beta.67',
      expectTags: both('2.0.8-beta.67'),
    },
    {
      id: 'tag14',
      event: 'push_tag',
      ref: tagRef('sometag'),
      images: 'ghcr.io/user/app',
      tags: lines('type=ref,event=tag', 'type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}'),
      flavor: 'latest=false',
      version: 'sometag',
      expectTags: ['ghcr.io/user/app:sometag'],
    },
    {
      id: 'tag15',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: lines('type=raw,priority=2000,foo', 'type=semver,pattern={{version}}', String.raw`type=match,"pattern=\d.\d"`),
      version: 'foo',
      expectTags: both('foo', '2.0.8-beta.67', '2.0'),
    },
    {
      id: 'tag16',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=raw,priority=2000,foo', 'type=ref,event=tag', 'type=edge'),
      version: 'foo',
      expectTags: both('foo', 'v1.1.1'),
    },
    {
      id: 'tag17',
      event: 'push_tag',
      ref: tagRef('p1/v1.0.0'),
      images: TWO_IMAGES,
      tags: lines(
        String.raw`type=match,"pattern=/^v(\d.\d.\d)$/ig",group=1`,
        String.raw`type=match,pattern=\d.\d.\d`,
        String.raw`type=match,pattern=\d.\d`,
        'type=ref,event=pr',
        'type=sha',
      ),
      version: '1.0.0',
      expectTags: both('1.0.0', '1.0', 'sha-860c190', 'latest'),
    },
    {
      id: 'tag18',
      event: 'push_tag',
      ref: tagRef('p1/v1.0.0'),
      images: TWO_IMAGES,
      tags: lines(
        String.raw`type=match,pattern=p1/v(\d.\d.\d),group=1`,
        String.raw`type=match,pattern=p1/v(\d.\d),group=1`,
        String.raw`type=match,pattern=p1/v(\d.\d),group=3`,
        'type=ref,event=pr',
        'type=sha',
      ),
      version: '1.0.0',
      expectTags: both('1.0.0', '1.0', 'sha-860c190', 'latest'),
    },
    {
      id: 'tag19',
      event: 'push_tag',
      ref: tagRef('p1/v1.0.0'),
      images: TWO_IMAGES,
      tags: lines(
        String.raw`type=match,pattern=p1/v(\d.\d.\d),group=1`,
        String.raw`type=match,pattern=p1/v(\d.\d),group=1,suffix=`,
        'type=ref,event=pr',
        'type=sha',
      ),
      flavor: 'suffix=-dev',
      version: '1.0.0-dev',
      expectTags: both('1.0.0-dev', '1.0', 'sha-860c190-dev', 'latest'),
    },
    {
      id: 'tag20',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=raw,{{tag}}-{{sha}}-foo', 'type=raw,{{base_ref}}-foo', 'type=raw,defbranch-foo,enable={{is_default_branch}}'),
      version: 'v1.1.1-860c190-foo',
      expectTags: both('v1.1.1-860c190-foo', 'master-foo'),
    },
    {
      id: 'tag21',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}.{{patch}}'),
      flavor: 'suffix=-dev,onlatest=true',
      version: '1.1.1-dev',
      expectTags: both('1.1.1-dev', 'latest-dev'),
    },
    {
      id: 'tag22',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}.{{patch}}'),
      flavor: lines('prefix=foo-,onlatest=true', 'suffix=-dev,onlatest=true'),
      version: 'foo-1.1.1-dev',
      expectTags: both('foo-1.1.1-dev', 'foo-latest-dev'),
    },
    {
      id: 'tag23',
      event: 'push_tag',
      images: 'org/app',
      tags: lines('type=pep440,pattern={{raw}}', 'type=pep440,pattern={{major}}.{{minor}}'),
      version: 'v1.1.1',
      expectTags: refs(['org/app'], ['v1.1.1', '1.1', 'latest']),
    },
    {
      id: 'tag24',
      event: 'push_tag',
      ref: tagRef('1.2'),
      images: 'org/app',
      tags: lines('type=pep440,pattern={{version}}', 'type=pep440,pattern={{major}}.{{minor}}'),
      version: '1.2',
      expectTags: ['org/app:1.2', 'org/app:latest'],
    },
    {
      id: 'tag25',
      event: 'push_tag',
      ref: tagRef('1.1beta2'),
      images: TWO_IMAGES,
      tags: lines('type=pep440,pattern={{major}}.{{minor}}', 'type=pep440,pattern={{major}}'),
      version: '1.1b2',
      expectTags: both('1.1b2'),
    },
    {
      id: 'tag26',
      event: 'push_tag',
      ref: tagRef('1.0dev4'),
      images: TWO_IMAGES,
      tags: lines('type=pep440,pattern={{major}}.{{minor}}', 'type=pep440,pattern={{major}}'),
      version: '1.0.dev4',
      expectTags: both('1.0.dev4'),
    },
    {
      id: 'tag27',
      event: 'push_tag',
      ref: tagRef('1.2.3rc2'),
      images: TWO_IMAGES,
      tags: lines('type=pep440,pattern={{raw}}', 'type=pep440,pattern={{version}}', 'type=pep440,pattern={{major}}.{{minor}}', 'type=pep440,pattern={{major}}'),
      version: '1.2.3rc2',
      expectTags: both('1.2.3rc2'),
    },
    {
      id: 'tag28',
      event: 'push_tag',
      images: 'org/app',
      tags: lines(
        'type=pep440,pattern={{version}}',
        'type=pep440,pattern={{major}}.{{minor}}.{{patch}}',
        'type=pep440,pattern={{major}}.{{minor}}',
        'type=pep440,pattern={{major}}',
      ),
      version: '1.1.1',
      expectTags: refs(['org/app'], ['1.1.1', '1.1', '1', 'latest']),
    },
    {
      id: 'tag29',
      event: 'push_tag',
      ref: tagRef('1.2post1'),
      images: 'org/app',
      tags: lines('type=pep440,pattern={{version}}', 'type=pep440,pattern={{major}}.{{minor}}', 'type=pep440,pattern={{major}}'),
      version: '1.2.post1',
      expectTags: ['org/app:1.2.post1'],
    },
    {
      id: 'tag30',
      event: 'push_tag',
      ref: tagRef('sometag'),
      images: 'ghcr.io/user/app',
      tags: lines('type=ref,event=tag', 'type=pep440,pattern={{version}}', 'type=pep440,pattern={{major}}.{{minor}}', 'type=pep440,pattern={{major}}'),
      flavor: 'latest=false',
      version: 'sometag',
      expectTags: ['ghcr.io/user/app:sometag'],
    },
    {
      id: 'tag31',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: 'type=semver,pattern={{raw}}',
      version: 'v2.0.8-beta.67',
      expectTags: both('v2.0.8-beta.67'),
    },
    {
      id: 'tag32',
      event: 'push_tag',
      ref: tagRef('v1.2.3rc2'),
      images: TWO_IMAGES,
      tags: lines('type=pep440,pattern={{raw}}', 'type=pep440,pattern={{major}}.{{minor}}'),
      version: 'v1.2.3rc2',
      expectTags: both('v1.2.3rc2', '1.2.3rc2'),
    },
    {
      id: 'tag33',
      event: 'push_tag',
      images: '',
      tags: lines(
        'type=pep440,pattern={{version}}',
        'type=pep440,pattern={{major}}.{{minor}}.{{patch}}',
        'type=pep440,pattern={{major}}.{{minor}}',
        'type=pep440,pattern={{major}}',
      ),
      version: '1.1.1',
      expectTags: ['1.1.1', '1.1', '1', 'latest'],
    },
    {
      id: 'tag34',
      event: 'push_tag',
      ref: tagRef('p1/v1.0.0'),
      images: 'org/app',
      tags: String.raw`type=semver,pattern={{version}},"match=v(\d.\d.\d)$"`,
      version: '1.0.0',
      expectTags: ['org/app:1.0.0', 'org/app:latest'],
    },
    // README type=semver table
    {
      id: 'semver v{{major}}',
      event: 'push_tag',
      ref: tagRef('v1.2.3'),
      tags: 'type=semver,pattern=v{{major}}',
      version: 'v1',
      expectTags: user('v1', 'latest'),
    },
    {
      id: 'semver pre-release, every pattern',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}}', 'type=ref,event=branch'),
      version: '2.0.8-beta.67',
      expectTags: ['user/app:2.0.8-beta.67'],
    },
    {
      // README "Major version zero"
      id: 'major version zero',
      event: 'push_tag',
      ref: tagRef('v0.1.2'),
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}', 'type=semver,pattern={{major}},enable=false'),
      version: '0.1.2',
      expectTags: user('0.1.2', '0.1', 'latest'),
    },
    {
      id: 'not semver: warned and skipped',
      event: 'push_tag',
      ref: tagRef('release1'),
      tags: lines('type=semver,pattern={{version}}', 'type=sha'),
      version: 'sha-860c190',
      expectTags: ['user/app:sha-860c190'],
    },
    {
      id: 'semver build metadata',
      event: 'push_tag',
      ref: tagRef('v9.5.7-alpha.2+fork.3.1.8'),
      tags: 'type=semver,pattern={{raw}}',
      version: 'v9.5.7-alpha.2-fork.3.1.8',
      expectTags: ['user/app:v9.5.7-alpha.2-fork.3.1.8'],
    },
    {
      id: 'pep440 v prefix cleaned',
      event: 'push_tag',
      ref: tagRef('v1.2.3'),
      tags: 'type=pep440,pattern={{version}}',
      version: '1.2.3',
      expectTags: user('1.2.3', 'latest'),
    },
    {
      id: 'pep440 pre-release {{major}}.{{minor}}',
      event: 'push_tag',
      ref: tagRef('1.2.3beta2'),
      tags: 'type=pep440,pattern={{major}}.{{minor}}',
      version: '1.2.3b2',
      expectTags: ['user/app:1.2.3b2'],
    },
    {
      id: 'ref,event=tag keeps the tag as is',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      tags: 'type=ref,event=tag',
      version: 'v2.0.8-beta.67',
      expectTags: user('v2.0.8-beta.67', 'latest'),
    },
    {
      id: 'ref,event=tag with / in the tag',
      event: 'push_tag',
      ref: tagRef('p1/v1.2.3'),
      tags: 'type=ref,event=tag',
      version: 'p1-v1.2.3',
      expectTags: user('p1-v1.2.3', 'latest'),
    },
    {
      // the highest-priority rule that yields a tag decides `latest` in auto mode
      id: 'latest decided by the first tag',
      event: 'push_tag',
      tags: lines('type=raw,value=first,priority=1000', 'type=semver,pattern={{version}}'),
      version: 'first',
      expectTags: user('first', '1.1.1'),
    },
    {
      // metadata-action does not de-duplicate `latest` against the other tags
      id: 'raw latest plus auto latest',
      event: 'push_tag',
      tags: lines('type=ref,event=tag', 'type=raw,value=latest'),
      version: 'v1.1.1',
      expectTags: user('v1.1.1', 'latest', 'latest'),
    },
  ])('$id', check);
});

describe('latest', () => {
  test.each<Row>([
    {
      id: 'latest01',
      event: 'push_tag',
      ref: tagRef('release1'),
      tags: String.raw`type=match,"pattern=^release\d{1,2}"`,
      version: 'release1',
      expectTags: user('release1', 'latest'),
    },
    {
      id: 'latest02',
      event: 'push_tag',
      ref: tagRef('20200110-RC2'),
      tags: String.raw`type=match,"pattern=^\d+-RC\d{1,2}"`,
      version: '20200110-RC2',
      expectTags: user('20200110-RC2', 'latest'),
    },
    {
      id: 'latest03',
      event: 'push_tag',
      ref: tagRef('20200110-RC2'),
      tags: String.raw`type=match,pattern=\d{8}`,
      version: '20200110',
      expectTags: user('20200110', 'latest'),
    },
    { id: 'latest04', event: 'push_tag', tags: String.raw`type=match,"pattern=\d.\d.\d"`, version: '1.1.1', expectTags: user('1.1.1', 'latest') },
    { id: 'latest05', event: 'push_tag', images: TWO_IMAGES, version: 'v1.1.1', expectTags: both('v1.1.1', 'latest') },
    {
      id: 'latest06',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: TWO_IMAGES,
      tags: String.raw`type=match,"pattern=\d.\d.\d"`,
      version: '2.0.8',
      expectTags: both('2.0.8', 'latest'),
    },
    {
      id: 'latest07',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: 'type=ref,event=tag',
      flavor: 'latest=false',
      version: 'v1.1.1',
      expectTags: both('v1.1.1'),
    },
    {
      id: 'latest08',
      event: 'push_tag',
      images: lines('org/app', 'ghcr.io/MyUSER/MyApp'),
      tags: 'type=ref,event=tag',
      flavor: 'latest=false',
      version: 'v1.1.1',
      expectTags: ['org/app:v1.1.1', 'ghcr.io/myuser/myapp:v1.1.1'],
    },
    {
      id: 'latest09',
      event: 'push_tag',
      images: lines('org/app', 'ghcr.io/MyUSER/MyApp'),
      tags: 'type=ref,event=tag',
      flavor: 'latest=false',
      labels: lines(
        'maintainer=CrazyMax',
        'org.opencontainers.image.description=this is a "good" example',
        'org.opencontainers.image.title=MyCustomTitle',
        'org.opencontainers.image.vendor=MyCompany',
      ),
      version: 'v1.1.1',
      expectTags: ['org/app:v1.1.1', 'ghcr.io/myuser/myapp:v1.1.1'],
      expectLabels: [
        'maintainer=CrazyMax',
        'org.opencontainers.image.created=2020-01-10T00:30:00.000Z',
        'org.opencontainers.image.description=this is a "good" example',
        'org.opencontainers.image.licenses=MIT',
        `org.opencontainers.image.revision=${SHA.dev}`,
        'org.opencontainers.image.source=https://github.com/octocat/Hello-World',
        'org.opencontainers.image.title=MyCustomTitle',
        'org.opencontainers.image.url=https://github.com/octocat/Hello-World',
        'org.opencontainers.image.vendor=MyCompany',
        'org.opencontainers.image.version=v1.1.1',
      ],
    },
    {
      id: 'latest10',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      images: '',
      tags: String.raw`type=match,"pattern=\d.\d.\d"`,
      version: '2.0.8',
      expectTags: ['2.0.8', 'latest'],
    },
    {
      id: 'latest=false beats a semver release',
      event: 'push_tag',
      tags: 'type=semver,pattern={{version}}',
      flavor: 'latest=false',
      version: '1.1.1',
      expectTags: ['user/app:1.1.1'],
    },
    {
      id: 'latest=true on a pre-release',
      event: 'push_tag',
      ref: tagRef('v2.0.8-beta.67'),
      tags: 'type=semver,pattern={{version}}',
      flavor: 'latest=true',
      version: '2.0.8-beta.67',
      expectTags: user('2.0.8-beta.67', 'latest'),
    },
    {
      id: 'prefix without onlatest leaves latest bare',
      event: 'push_tag',
      tags: 'type=semver,pattern={{version}}',
      flavor: 'prefix=v',
      version: 'v1.1.1',
      expectTags: user('v1.1.1', 'latest'),
    },
  ])('$id', check);
});

describe('pull requests', () => {
  test.each<Row>([
    { id: 'pr01', event: 'pull_request', version: 'pr-15', expectTags: ['user/app:pr-15'] },
    { id: 'pr02', event: 'pull_request', images: TWO_IMAGES, version: 'pr-15', expectTags: both('pr-15') },
    {
      id: 'pr03',
      event: 'pull_request',
      images: TWO_IMAGES,
      tags: lines('type=ref,event=pr', 'type=sha'),
      version: 'pr-15',
      expectTags: both('pr-15', 'sha-a9c8c58'),
    },
    {
      id: 'pr04',
      event: 'pull_request',
      images: TWO_IMAGES,
      tags: lines('type=sha,priority=2000', 'type=ref,event=pr'),
      version: 'sha-a9c8c58',
      expectTags: both('sha-a9c8c58', 'pr-15'),
    },
    {
      id: 'pr05',
      event: 'pull_request',
      images: TWO_IMAGES,
      tags: 'type=ref,event=pr',
      flavor: lines('prefix=glo-', 'suffix=-bal'),
      version: 'pr-15-bal',
      expectTags: both('pr-15-bal'),
    },
    {
      id: 'pr06',
      event: 'pull_request',
      images: TWO_IMAGES,
      tags: 'type=ref,event=pr,prefix=',
      flavor: lines('prefix=glo-', 'suffix=-bal'),
      version: '15-bal',
      expectTags: both('15-bal'),
    },
    {
      id: 'pr07',
      event: 'pull_request_target',
      images: TWO_IMAGES,
      tags: lines('type=sha,priority=2000', 'type=ref,event=pr'),
      version: 'sha-2665741',
      expectTags: both('sha-2665741', 'pr-15'),
    },
    {
      id: 'pr08',
      event: 'pull_request_target',
      images: TWO_IMAGES,
      tags: 'type=ref,event=pr,prefix=',
      flavor: lines('prefix=glo-', 'suffix=-bal'),
      version: '15-bal',
      expectTags: both('15-bal'),
    },
    {
      id: 'pr09',
      event: 'pull_request_target',
      images: 'org/app',
      tags: lines('type=ref,event=tag', 'type=ref,event=pr', 'type=ref,event=branch', 'type=sha', 'type=sha,format=long'),
      version: 'pr-15',
      expectTags: ['org/app:pr-15', 'org/app:sha-2665741', `org/app:sha-${SHA.master}`],
    },
    {
      id: 'pr10',
      event: 'pull_request_target',
      images: 'org/app',
      tags: lines('type=raw,value=mytag-{{base_ref}}', 'type=raw,mytag-defbranch,enable={{is_default_branch}}'),
      version: 'mytag-master',
      expectTags: ['org/app:mytag-master'],
    },
    {
      id: 'pr11',
      event: 'pull_request',
      images: 'org/app',
      tags: lines('type=raw,value=mytag-{{base_ref}}', 'type=raw,mytag-defbranch,enable={{is_default_branch}}'),
      version: 'mytag-master',
      expectTags: ['org/app:mytag-master'],
    },
    // an unquoted format is a missing value to Handlebars: moment's default format is used
    {
      id: 'pr12',
      event: 'pull_request',
      images: 'org/app',
      tags: 'type=raw,value={{commit_date YYYY-MM-DD-HHmmSS}}',
      version: '2020-01-10T00-30-00Z',
      expectTags: ['org/app:2020-01-10T00-30-00Z'],
    },
    { id: '{{branch}} is empty on a PR', event: 'pull_request', tags: 'type=raw,value=b-{{branch}}', version: 'b-', expectTags: ['user/app:b-'] },
    {
      id: 'pull_request_target: no branch tag',
      event: 'pull_request_target',
      tags: lines('type=ref,event=branch', 'type=edge', 'type=raw,value=x-{{branch}}'),
      version: 'x-',
      expectTags: ['user/app:x-'],
    },
  ])('$id', check);

  const headSha = { prHeadSha: true };
  test.each<Row>([
    { id: 'pr01', event: 'pull_request', facts: headSha, version: 'pr-15', expectTags: ['user/app:pr-15'], expectLabels: oci('pr-15', SHA.prHead) },
    {
      id: 'pr03',
      event: 'pull_request',
      images: TWO_IMAGES,
      tags: lines('type=ref,event=pr', 'type=sha'),
      facts: headSha,
      version: 'pr-15',
      expectTags: both('pr-15', 'sha-3370e22'),
      expectLabels: oci('pr-15', SHA.prHead),
    },
    {
      id: 'pr07',
      event: 'pull_request_target',
      images: TWO_IMAGES,
      tags: lines('type=sha,priority=2000', 'type=ref,event=pr'),
      facts: headSha,
      version: 'sha-3370e22',
      expectTags: both('sha-3370e22', 'pr-15'),
      expectLabels: oci('sha-3370e22', SHA.prHead),
    },
    {
      id: 'pr09',
      event: 'pull_request_target',
      images: 'org/app',
      tags: lines('type=ref,event=tag', 'type=ref,event=pr', 'type=ref,event=branch', 'type=sha', 'type=sha,format=long'),
      facts: headSha,
      version: 'pr-15',
      expectTags: ['org/app:pr-15', 'org/app:sha-3370e22', `org/app:sha-${SHA.prHead}`],
      expectLabels: oci('pr-15', SHA.prHead),
    },
    { id: 'head SHA is for PRs only', event: 'push_dev', tags: 'type=sha', facts: headSha, version: 'sha-860c190', expectTags: ['user/app:sha-860c190'] },
  ])('PR head SHA: $id', check);
});

describe('schedule', () => {
  test.each<Row>([
    { id: 'schedule01', event: 'schedule', version: 'nightly', expectTags: user('nightly', 'master') },
    {
      id: 'schedule02',
      event: 'schedule',
      tags: lines("type=schedule,pattern={{date 'YYYYMMDD'}}", "type=schedule,pattern=source-date-{{commit_date 'YYYY-MM-DD'}}"),
      version: '20200110',
      expectTags: user('20200110', 'source-date-2020-01-10'),
    },
    {
      id: 'schedule03',
      event: 'schedule',
      tags: "type=schedule,pattern={{date 'YYYYMMDD-HHmmss'}}",
      version: '20200110-003000',
      expectTags: ['user/app:20200110-003000'],
    },
    { id: 'schedule04', event: 'schedule', images: TWO_IMAGES, version: 'nightly', expectTags: both('nightly', 'master') },
    {
      id: 'schedule05',
      event: 'schedule',
      images: TWO_IMAGES,
      tags: lines('type=schedule', 'type=sha'),
      version: 'nightly',
      expectTags: both('nightly', 'sha-860c190'),
    },
    {
      id: 'schedule06',
      event: 'schedule',
      images: TWO_IMAGES,
      tags: lines('type=schedule', 'type=sha,priority=2000', 'type=raw,value=defbranch,enable={{is_default_branch}}'),
      version: 'sha-860c190',
      expectTags: both('sha-860c190', 'nightly', 'defbranch'),
    },
    {
      id: 'schedule07',
      event: 'schedule',
      images: TWO_IMAGES,
      tags: 'type=schedule',
      flavor: lines('prefix=glo-', 'suffix=-bal'),
      version: 'glo-nightly-bal',
      expectTags: both('glo-nightly-bal'),
    },
    {
      id: 'schedule08',
      event: 'schedule',
      tags: lines(
        "type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
        "type=schedule,pattern=src-{{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
      ),
      version: '20200110-093000',
      expectTags: user('20200110-093000', 'src-20200110-093000'),
    },
    {
      id: 'schedule rule off schedule',
      event: 'push_dev',
      tags: lines('type=schedule', 'type=ref,event=branch'),
      version: 'dev',
      expectTags: ['user/app:dev'],
    },
    {
      id: 'schedule with latest=true',
      event: 'schedule',
      tags: 'type=schedule',
      flavor: 'latest=true',
      version: 'nightly',
      expectTags: user('nightly', 'latest'),
    },
  ])('$id', check);
});

describe('release, dispatch, merge queue, workflow_run, create', () => {
  test.each<Row>([
    { id: 'release01', event: 'release', version: 'v1.1.1', expectTags: user('v1.1.1', 'latest') },
    {
      id: 'release02',
      event: 'release',
      tags: lines('type=ref,event=tag', 'type=raw,value=baseref-{{base_ref}}', 'type=raw,value=defbranch,enable={{is_default_branch}}'),
      version: 'v1.1.1',
      expectTags: user('v1.1.1', 'baseref-', 'latest'),
    },
    {
      id: 'release03',
      event: 'release',
      tags: lines("type=raw,value=src-{{commit_date 'YYYYMMDD-HHmmss'}}", "type=raw,value={{date 'YYYYMMDD-HHmmss'}}"),
      version: 'src-20200110-003000',
      expectTags: user('src-20200110-003000', '20200110-003000'),
    },
    {
      id: 'release semver',
      event: 'release',
      tags: lines('type=semver,pattern={{version}}', 'type=semver,pattern={{major}}.{{minor}}'),
      version: '1.1.1',
      expectTags: user('1.1.1', '1.1', 'latest'),
    },
    { id: 'push04', event: 'workflow_dispatch', tags: 'type=edge', version: 'edge', expectTags: ['user/app:edge'] },
    { id: 'workflow_dispatch default', event: 'workflow_dispatch', version: 'master', expectTags: ['user/app:master'] },
    {
      id: 'merge_group default',
      event: 'merge_group',
      tags: lines('type=ref,event=branch', 'type=raw,value=default,enable={{is_default_branch}}', 'type=edge'),
      version: `gh-readonly-queue-master-pr-15-${SHA.master}`,
      expectTags: [`user/app:gh-readonly-queue-master-pr-15-${SHA.master}`],
    },
    { id: 'workflow_run default', event: 'workflow_run', version: 'master', expectTags: ['user/app:master'] },
    { id: 'workflow_run edge', event: 'workflow_run', tags: lines('type=edge', 'type=sha'), version: 'edge', expectTags: user('edge', 'sha-2665741') },
    {
      // create events count as the default branch for {{is_default_branch}}, even for a tag ref
      id: 'create tag',
      event: 'create_tag',
      tags: lines('type=ref,event=tag', 'type=raw,value=defbranch,enable={{is_default_branch}}', 'type=raw,value=other,enable={{is_not_default_branch}}'),
      version: 'v2.1.8-beta.67',
      expectTags: user('v2.1.8-beta.67', 'defbranch', 'latest'),
    },
  ])('$id', check);
});

describe('raw', () => {
  test.each<Row>([
    {
      id: 'raw01',
      event: 'push_dev',
      tags: lines('type=ref,event=branch', 'type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      version: 'dev',
      expectTags: user('dev', 'my', 'custom', 'tags'),
    },
    { id: 'raw02', event: 'push_dev', tags: lines('type=ref,event=branch', 'type=raw,my'), version: 'dev', expectTags: user('dev', 'my') },
    {
      id: 'raw03',
      event: 'push_tag',
      ref: tagRef('release1'),
      tags: lines('type=ref,event=tag', 'type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      version: 'release1',
      expectTags: user('release1', 'my', 'custom', 'tags', 'latest'),
    },
    {
      id: 'raw04',
      event: 'push_tag',
      ref: tagRef('20200110-RC2'),
      tags: lines(String.raw`type=match,pattern=\d{8}`, 'type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      flavor: 'latest=false',
      version: '20200110',
      expectTags: user('20200110', 'my', 'custom', 'tags'),
    },
    {
      id: 'raw05',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines(
        'type=semver,pattern={{version}}',
        'type=semver,pattern={{major}}.{{minor}}',
        'type=semver,pattern={{major}}',
        'type=raw,my',
        'type=raw,custom',
        'type=raw,tags',
      ),
      version: '1.1.1',
      expectTags: both('1.1.1', '1.1', '1', 'my', 'custom', 'tags', 'latest'),
    },
    {
      id: 'raw06',
      event: 'push_tag',
      images: TWO_IMAGES,
      tags: lines('type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      version: 'my',
      expectTags: both('my', 'custom', 'tags'),
    },
    {
      id: 'raw07',
      event: 'push_dev',
      tags: lines('type=ref,priority=90,event=branch', 'type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      flavor: 'latest=true',
      version: 'my',
      expectTags: user('my', 'custom', 'tags', 'dev', 'latest'),
    },
    {
      id: 'raw08',
      event: 'push_dev',
      tags: lines(String.raw`type=match,pattern=\d{8}`, 'type=raw,my', 'type=raw,custom', 'type=raw,tags'),
      flavor: 'latest=false',
      version: 'my',
      expectTags: user('my', 'custom', 'tags'),
    },
    {
      id: 'raw09',
      event: 'push_dev',
      tags: lines(String.raw`type=match,pattern=\d{8}`, 'type=raw,my,prefix=foo-,suffix=-bar', 'type=raw,custom', 'type=raw,tags'),
      flavor: lines('latest=false', 'prefix=glo-', 'suffix=-bal'),
      version: 'foo-my-bar',
      expectTags: user('foo-my-bar', 'glo-custom-bal', 'glo-tags-bal'),
    },
    {
      id: 'raw10',
      event: 'push_dev',
      tags: lines('type=raw,foo', 'type=raw,bar,enable=false', 'type=raw,baz,enable=true'),
      flavor: 'latest=false',
      version: 'foo',
      expectTags: user('foo', 'baz'),
    },
    { id: 'a line without type= is raw', event: 'push_dev', tags: lines('foo', 'bar'), version: 'foo', expectTags: user('foo', 'bar') },
    {
      id: 'comments and blank lines',
      event: 'push_dev',
      tags: lines('# nightly builds', 'type=ref,event=branch', '', 'type=raw,value=foo#bar'),
      version: 'dev',
      expectTags: user('dev', 'foo-bar'),
    },
    { id: 'quoted value with a comma', event: 'push_dev', tags: 'type=raw,"value=a,b"', version: 'a-b', expectTags: ['user/app:a-b'] },
    { id: 'value keeps = after the first', event: 'push_dev', tags: 'type=raw,value=a=b', version: 'a-b', expectTags: ['user/app:a-b'] },
    {
      id: 'empty value gives no tag',
      event: 'push_dev',
      tags: lines('type=raw,value=', 'type=sha'),
      version: 'sha-860c190',
      expectTags: ['user/app:sha-860c190'],
    },
  ])('$id', check);
});
