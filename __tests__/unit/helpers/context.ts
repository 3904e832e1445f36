// The one builder of a GitHub Context for unit tests.
// testContext: a push to main of acme/app, with any field overridable.
// eventContext: the context of a stored event in __tests__/fixtures/events: <kind>.json holds an
// env-like object (GITHUB_*) and the event payload; repository.json is the repository object (it
// stands in for the payload's `repository`, which every event carries).
import { readFileSync } from 'node:fs';
import type { Context } from '../../../src/context.js';

export function testContext(over: Partial<Context> = {}): Context {
  return {
    eventName: 'push',
    sha: 'abc123',
    ref: 'refs/heads/main',
    refName: 'main',
    headRef: '',
    baseRef: '',
    repo: { owner: 'acme', repo: 'app' },
    runId: '1',
    runNumber: '1',
    runAttempt: '1',
    job: 'build',
    actor: 'a',
    workflow: 'ci',
    serverUrl: 'https://github.com',
    apiUrl: 'https://api.github.com',
    graphqlUrl: '',
    workspace: '/w',
    runnerTemp: '/t',
    payload: { repository: { default_branch: 'main' } },
    ...over,
  };
}

export type EventKind =
  | 'empty'
  | 'push_dev'
  | 'push_master'
  | 'push_invalidchars'
  | 'push_tag'
  | 'pull_request'
  | 'pull_request_target'
  | 'schedule'
  | 'workflow_dispatch'
  | 'release'
  | 'merge_group'
  | 'workflow_run'
  | 'create_tag';

interface EventFixture {
  env: Record<string, string>;
  payload: Record<string, any>;
}

function readEventJson<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/events/${name}`, import.meta.url), 'utf8')) as T;
}

export interface EventOverrides {
  /** Replaces GITHUB_REF (and GITHUB_REF_NAME), e.g. another tag on the push_tag fixture. */
  ref?: string;
}

/** The context of a stored event, on octocat/Hello-World as a hosted runner sees it. */
export function eventContext(kind: EventKind, overrides: EventOverrides = {}): Context {
  const { env, payload } = readEventJson<EventFixture>(`${kind}.json`);
  const repository = readEventJson<Record<string, any>>('repository.json');
  const e = (name: string): string => env[name] ?? '';
  const ref = overrides.ref ?? e('GITHUB_REF');
  return testContext({
    eventName: e('GITHUB_EVENT_NAME'),
    sha: e('GITHUB_SHA'),
    ref,
    refName: overrides.ref ? ref.replace(/^refs\/(heads|tags)\//, '') : e('GITHUB_REF_NAME'),
    headRef: e('GITHUB_HEAD_REF'),
    baseRef: e('GITHUB_BASE_REF'),
    repo: { owner: 'octocat', repo: 'Hello-World' },
    runId: '2188748038',
    runNumber: '15',
    job: 'docker',
    actor: 'octocat',
    graphqlUrl: 'https://api.github.com/graphql',
    workspace: '/home/runner/work/Hello-World/Hello-World',
    runnerTemp: '/home/runner/work/_temp',
    payload: { ...payload, repository: payload.repository ?? repository },
  });
}
