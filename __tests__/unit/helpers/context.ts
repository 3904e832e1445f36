// A Context for unit tests: a push to main of acme/app, with fields overridable.
import type { Context } from '../../../src/context.js';

export function testContext(over: Partial<Context> = {}): Context {
  return {
    eventName: 'push', sha: 'abc123', ref: 'refs/heads/main', refName: 'main', headRef: '', baseRef: '',
    repo: { owner: 'acme', repo: 'app' }, runId: '1', runNumber: '1', runAttempt: '1', job: 'build', actor: 'a', workflow: 'ci',
    serverUrl: 'https://github.com', apiUrl: 'https://api.github.com', graphqlUrl: '', workspace: '/w', runnerTemp: '/t',
    payload: { repository: { default_branch: 'main' } }, ...over,
  };
}
