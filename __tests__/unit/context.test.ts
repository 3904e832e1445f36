// The run's context read from the GITHUB_* environment and the event payload file (src/context.ts).
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { contextFromEnv, defaultBranchOf, isPullRequestEvent } from '../../src/context.js';
import { testContext } from './helpers/context.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'obc-context-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function eventFile(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('contextFromEnv', () => {
  test('each field comes from its variable; the repository is split into owner and name', () => {
    const payload = { pull_request: { number: 15 }, repository: { default_branch: 'develop' } };
    const c = contextFromEnv({
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: eventFile('pr.json', JSON.stringify(payload)),
      GITHUB_SHA: 'f'.repeat(40),
      GITHUB_REF: 'refs/pull/15/merge',
      GITHUB_REF_NAME: '15/merge',
      GITHUB_HEAD_REF: 'fix/y',
      GITHUB_BASE_REF: 'develop',
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_RUN_ID: '99',
      GITHUB_RUN_NUMBER: '7',
      GITHUB_RUN_ATTEMPT: '2',
      GITHUB_JOB: 'docker',
      GITHUB_ACTOR: 'octocat',
      GITHUB_WORKFLOW: 'ci',
      GITHUB_SERVER_URL: 'https://ghe.example.com',
      GITHUB_API_URL: 'https://ghe.example.com/api/v3',
      GITHUB_GRAPHQL_URL: 'https://ghe.example.com/api/graphql',
      GITHUB_WORKSPACE: '/home/runner/work/app/app',
      RUNNER_TEMP: '/home/runner/work/_temp',
    });
    expect(c).toEqual({
      eventName: 'pull_request',
      sha: 'f'.repeat(40),
      ref: 'refs/pull/15/merge',
      refName: '15/merge',
      headRef: 'fix/y',
      baseRef: 'develop',
      repo: { owner: 'acme', repo: 'app' },
      runId: '99',
      runNumber: '7',
      runAttempt: '2',
      job: 'docker',
      actor: 'octocat',
      workflow: 'ci',
      serverUrl: 'https://ghe.example.com',
      apiUrl: 'https://ghe.example.com/api/v3',
      graphqlUrl: 'https://ghe.example.com/api/graphql',
      workspace: '/home/runner/work/app/app',
      runnerTemp: '/home/runner/work/_temp',
      payload,
    });
  });

  test('an empty environment: the defaults of github.com, run 0 attempt 1, the working directory, /tmp and no payload', () => {
    const c = contextFromEnv({});
    expect(c).toMatchObject({
      eventName: '',
      sha: '',
      repo: { owner: '', repo: '' },
      runId: '0',
      runNumber: '0',
      runAttempt: '1',
      serverUrl: 'https://github.com',
      apiUrl: 'https://api.github.com',
      graphqlUrl: 'https://api.github.com/graphql',
      workspace: process.cwd(),
      runnerTemp: '/tmp',
      payload: {},
    });
  });

  test('a variable set to the empty string counts as unset', () => {
    const c = contextFromEnv({ GITHUB_RUN_ATTEMPT: '', GITHUB_SERVER_URL: '', RUNNER_TEMP: '' });
    expect([c.runAttempt, c.serverUrl, c.runnerTemp]).toEqual(['1', 'https://github.com', '/tmp']);
  });

  test('an event path that does not exist gives an empty payload', () => {
    expect(contextFromEnv({ GITHUB_EVENT_PATH: path.join(dir, 'missing.json') }).payload).toEqual({});
  });

  test('a payload file that is not JSON is an error naming the variable and the file', () => {
    const f = eventFile('bad.json', '{ not json');
    expect(() => contextFromEnv({ GITHUB_EVENT_PATH: f })).toThrow(
      new RegExp(`^GITHUB_EVENT_PATH: cannot parse ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} as JSON: `),
    );
  });
});

describe('defaultBranchOf', () => {
  test.each<[string, Record<string, any>, string | undefined]>([
    ['the payload repository says it', { repository: { default_branch: 'develop' } }, 'develop'],
    ['an empty name is no name', { repository: { default_branch: '' } }, undefined],
    ['not a string', { repository: { default_branch: 3 } }, undefined],
    ['no repository in the payload', {}, undefined],
  ])('%s', (_n, payload, want) => expect(defaultBranchOf(testContext({ payload }))).toBe(want));
});

test('isPullRequestEvent: pull_request and pull_request_target only', () => {
  expect(['pull_request', 'pull_request_target', 'push', 'merge_group', 'pull_request_review', ''].map(isPullRequestEvent)).toEqual([
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
});
