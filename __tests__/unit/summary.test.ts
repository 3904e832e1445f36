// The job summary's Markdown, rendered from typed Reports: exact output for the main kinds of run.
import { formatMs, renderMainSummary, renderSaveSummary, saveSummaryFrom } from '../../src/summary.js';
import { formatBytes } from '../../src/format.js';
import type { Report } from '../../src/report.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const IMAGEID = `sha256:${'c'.repeat(64)}`;
const TOOLCHAIN = { docker: '26.1.5', buildx: '0.13.1', buildkit: 'v0.13.2', driver: 'docker', builder: 'default' };

describe('formatBytes and formatMs', () => {
  test.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [25 * 1024 * 1024, '25.0 MiB'],
    [3 * 1024 ** 3, '3.0 GiB'],
  ])('%d bytes -> %s', (n, s) => expect(formatBytes(n)).toBe(s));
  test.each([
    [0, '0 ms'],
    [999, '999 ms'],
    [1000, '1.0 s'],
    [12_345, '12.3 s'],
    [59_999, '60.0 s'],
    [61_000, '1 min 1 s'],
    [125_400, '2 min 5 s'],
  ])('%d ms -> %s', (n, s) => expect(formatMs(n)).toBe(s));
});

describe('renderMainSummary', () => {
  test('a push: every reference with its digest, then the facts table', () => {
    const r: Report = {
      tags: ['ghcr.io/acme/app:v1.2.3', 'ghcr.io/acme/app:latest'],
      pushed: true,
      pushReason: 'push: auto pushes on push event',
      digest: DIGEST,
      imageid: IMAGEID,
      dockerfile: 'Dockerfile',
      secretIds: ['npm_token', 'gh'],
      toolchain: TOOLCHAIN,
      cache: { hit: 'exact', bytesRestored: 25 * 1024 * 1024, entriesRestored: 3, restoreMs: 1200, coldBuildMs: 50_000 },
      buildMs: 4000,
      secretScan: { blobs: 18, storedBytes: 1000, decompressedBytes: 2 * 1024 * 1024, ms: 300, leakedIds: [] },
    };
    expect(renderMainSummary(r)).toBe(
      [
        '### ✅ Docker build pushed 2 tags',
        '',
        'Pushed:',
        '',
        `- \`ghcr.io/acme/app:v1.2.3@${DIGEST}\``,
        `- \`ghcr.io/acme/app:latest@${DIGEST}\``,
        '',
        '| | |',
        '| --- | --- |',
        '| Push | yes (push: auto pushes on push event) |',
        `| Digest | \`${DIGEST}\` |`,
        `| Image ID | \`${IMAGEID}\` |`,
        '| Dockerfile | `Dockerfile` |',
        '| Build time | 4.0 s |',
        '| Layer cache | exact hit: 25.0 MiB restored from 3 entries, 1.2 s in the cache service |',
        '| Time saved | 44.8 s against the cold build (50.0 s) |',
        '| Build secrets | `npm_token`, `gh` (ids only) |',
        '| Leak guard | no secret value found (18 blobs, 2.0 MiB read in 300 ms) |',
        '| Toolchain | Docker 26.1.5, buildx 0.13.1, BuildKit v0.13.2; builder `default` (docker driver) |',
        '',
      ].join('\n'),
    );
  });

  test('a pull request: tags not pushed, the reason, and the cache is not saved', () => {
    const r: Report = {
      tags: ['ghcr.io/acme/app:pr-15'],
      pushed: false,
      pushReason: 'push: auto does not push on pull_request events',
      imageid: IMAGEID,
      secretIds: [],
      cache: { hit: 'partial', bytesRestored: 2048, entriesRestored: 1, restoreMs: 80, saveReason: 'cache-save: auto only reads the cache on pull requests' },
      buildMs: 900,
    };
    expect(renderMainSummary(r)).toBe(
      [
        '### ☑️ Docker build succeeded (not pushed)',
        '',
        'Tags (not pushed):',
        '',
        '- `ghcr.io/acme/app:pr-15`',
        '',
        '| | |',
        '| --- | --- |',
        '| Push | no (push: auto does not push on pull_request events) |',
        `| Image ID | \`${IMAGEID}\` |`,
        '| Build time | 900 ms |',
        '| Layer cache | partial hit: 2.0 KiB restored from 1 entry, 80 ms in the cache service; not saved (cache-save: auto only reads the cache on pull requests) |',
        '',
      ].join('\n'),
    );
  });

  test('a failed build: the error line in a code block, where, and what is known', () => {
    const r: Report = {
      tags: ['127.0.0.1:5000/x:main'],
      pushed: false,
      pushReason: 'push: true',
      pushPlanned: true,
      secretIds: ['token'],
      dockerfile: 'docker/app.Dockerfile',
      error: 'ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY',
      errorLocation: { file: 'docker/app.Dockerfile', startLine: 3, endLine: 3 },
      cache: { hit: 'miss', bytesRestored: 0, entriesRestored: 0, restoreMs: 40 },
      buildMs: 300,
    };
    expect(renderMainSummary(r)).toBe(
      [
        '### ❌ Docker build failed',
        '',
        'The step failed at `docker/app.Dockerfile:3`:',
        '',
        '```text',
        'ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY',
        '```',
        '',
        'Tags it would have had:',
        '',
        '- `127.0.0.1:5000/x:main`',
        '',
        '| | |',
        '| --- | --- |',
        '| Push | no: the step failed first (push: true) |',
        '| Dockerfile | `docker/app.Dockerfile` |',
        '| Build time | 300 ms |',
        '| Layer cache | miss: nothing restored, 40 ms in the cache service |',
        '| Build secrets | `token` (ids only) |',
        '',
      ].join('\n'),
    );
  });

  test('a failure before anything was planned (bad input): headline and the error only', () => {
    const r: Report = { tags: [], pushed: false, pushReason: '', secretIds: [], error: 'push: expected one of auto, true, false, got "x"' };
    expect(renderMainSummary(r)).toBe(
      ['### ❌ Docker build failed', '', 'The step failed:', '', '```text', 'push: expected one of auto, true, false, got "x"', '```', ''].join('\n'),
    );
  });

  test('a dry run, and a disabled cache', () => {
    const r: Report = {
      tags: ['a/b:main'],
      pushed: false,
      pushReason: 'push: true',
      pushPlanned: true,
      secretIds: [],
      dryRun: true,
      cache: { hit: 'disabled', bytesRestored: 0, entriesRestored: 0, restoreMs: 0 },
    };
    const s = renderMainSummary(r);
    expect(s.split('\n')[0]).toBe('### 🧪 Docker build: dry run (nothing built)');
    expect(s).toContain('| Push | would push (push: true) |');
    expect(renderMainSummary({ ...r, pushPlanned: false, pushReason: 'push: false' })).toContain('| Push | no (push: false) |');
    expect(s).toContain('| Layer cache | disabled (cache: false) |');
  });

  test('a leak: the ids found, never values', () => {
    const r: Report = {
      tags: ['a/b:main'],
      pushed: false,
      pushReason: 'push: true',
      secretIds: ['npm_token'],
      error: 'secret-scan: ...',
      secretScan: { blobs: 4, storedBytes: 10, decompressedBytes: 10, ms: 5, leakedIds: ['npm_token'] },
    };
    expect(renderMainSummary(r)).toContain('| Leak guard | found `npm_token`: nothing pushed or cached (4 blobs, 10 B read in 5 ms) |');
  });

  test('table cells stay one line with pipes escaped; a fence in the error cannot close the block', () => {
    const r: Report = { tags: [], pushed: false, pushReason: 'a | b\nc', secretIds: [], error: 'bad ``` fence' };
    const s = renderMainSummary(r);
    expect(s).toContain('| Push | no (a \\| b c) |');
    expect(s).toContain("bad ''' fence");
    expect(s.match(/```/g)).toHaveLength(2);
  });

  test('pushed without a digest from the registry: the references alone', () => {
    const r: Report = { tags: ['a/b:main'], pushed: true, pushReason: 'push: true', pushPlanned: true, secretIds: [] };
    expect(renderMainSummary(r)).toContain('Pushed:\n\n- `a/b:main`\n');
  });

  test('no time saved row without a cold build time, or on a miss', () => {
    const base: Report = { tags: [], pushed: false, pushReason: '', secretIds: [], buildMs: 1000 };
    expect(renderMainSummary({ ...base, cache: { hit: 'exact', bytesRestored: 1, entriesRestored: 1, restoreMs: 1 } })).not.toContain('Time saved');
    expect(renderMainSummary({ ...base, cache: { hit: 'miss', bytesRestored: 0, entriesRestored: 0, restoreMs: 1, coldBuildMs: 9000 } })).not.toContain(
      'Time saved',
    );
    expect(renderMainSummary({ ...base, cache: { hit: 'partial', bytesRestored: 1, entriesRestored: 1, restoreMs: 0, coldBuildMs: 500 } })).toContain(
      '| Time saved | none against the cold build (500 ms) |',
    );
  });
});

describe('renderSaveSummary and saveSummaryFrom', () => {
  test.each<[string, Parameters<typeof renderSaveSummary>[0], string]>([
    [
      'saved',
      { saved: true, entriesSaved: 3, bytesSaved: 26_248_326, ms: 545, key: 'obc1-idx-x-main-abc' },
      'Saved 25.0 MiB in 3 entries under `obc1-idx-x-main-abc`, 545 ms in the cache service.',
    ],
    ['one entry', { saved: true, entriesSaved: 1, bytesSaved: 100, ms: 1500 }, 'Saved 100 B in 1 entry, 1.5 s in the cache service.'],
    [
      'nothing new',
      { saved: false, reason: 'nothing changed: the cache already holds every layer of this build', entriesSaved: 0, bytesSaved: 0, ms: 20 },
      'Not saved: nothing changed: the cache already holds every layer of this build.',
    ],
    ['build failed', { saved: false, reason: 'the build did not succeed', entriesSaved: 0, bytesSaved: 0, ms: 0 }, 'Not saved: the build did not succeed.'],
    [
      'export unreadable',
      { saved: false, failed: "this action could not read the build's cache export: x", entriesSaved: 0, bytesSaved: 0, ms: 9 },
      "Not saved: this action could not read the build's cache export: x (the build is not affected).",
    ],
  ])('%s', (_n, s, line) => {
    expect(renderSaveSummary(s)).toBe(['### Layer cache save', '', line, ''].join('\n'));
  });

  test('from the save phase result', () => {
    expect(saveSummaryFrom({ outcome: { saved: true, entriesSaved: 2, bytesSaved: 10, newBlobs: 1 }, ms: 7 }, 'k1')).toEqual({
      saved: true,
      reason: undefined,
      entriesSaved: 2,
      bytesSaved: 10,
      ms: 7,
      key: 'k1',
    });
    expect(saveSummaryFrom({ outcome: { saved: false, reason: 'why', entriesSaved: 0, bytesSaved: 0, newBlobs: 0 }, ms: 3 }, 'k1')).toEqual({
      saved: false,
      reason: 'why',
      entriesSaved: 0,
      bytesSaved: 0,
      ms: 3,
      key: undefined,
    });
    expect(saveSummaryFrom({ failure: "the runner's disk is full: ENOSPC", ms: 4 }, 'k1')).toEqual({
      saved: false,
      failed: "the runner's disk is full: ENOSPC",
      entriesSaved: 0,
      bytesSaved: 0,
      ms: 4,
    });
  });
});

test('cache mounts appear by id with what happened to each', async () => {
  const { renderMainSummary } = await import('../../src/summary.js');
  const md = renderMainSummary({
    tags: [],
    pushed: false,
    pushReason: 'push: false',
    secretIds: [],
    mounts: [
      { id: '/root/.npm', result: 'restored', bytes: 2048 },
      { id: 'go-build', result: 'miss', bytes: 0 },
    ],
  });
  expect(md).toMatch(/Cache mounts/);
  expect(md).toContain('/root/.npm');
  expect(md).toMatch(/restored \(2(\.0)? KiB\)/);
  expect(md).toMatch(/go-build.*: miss/);
});

test('a build that made nothing new says the save is skipped because nothing changed', async () => {
  const { renderMainSummary } = await import('../../src/summary.js');
  const base = { tags: [], pushed: false, pushReason: 'push: false', secretIds: [] };
  const cache = { hit: 'exact' as const, bytesRestored: 3277, entriesRestored: 1, restoreMs: 100 };
  expect(renderMainSummary({ ...base, cache: { ...cache, unchanged: true } })).toMatch(/nothing new to save: the cache already held every layer/);
  expect(renderMainSummary({ ...base, cache: { ...cache, hit: 'partial', unchanged: false } })).not.toMatch(/nothing new to save/);
});
