// The run's context: everything the action knows about the workflow run, read once from the
// GITHUB_* environment and the event payload. Pure data; planners take it as an argument.
import { readFileSync, existsSync } from 'node:fs';

export interface Repo {
  owner: string;
  repo: string;
}

export interface Context {
  eventName: string;
  sha: string;
  ref: string;
  /** Short ref name (GITHUB_REF_NAME), e.g. `main`, `v1.2.3`, `15/merge`. */
  refName: string;
  /** Pull request head branch (GITHUB_HEAD_REF), empty outside pull requests. */
  headRef: string;
  /** Pull request base branch (GITHUB_BASE_REF), empty outside pull requests. */
  baseRef: string;
  repo: Repo;
  runId: string;
  runNumber: string;
  runAttempt: string;
  job: string;
  actor: string;
  workflow: string;
  serverUrl: string;
  apiUrl: string;
  graphqlUrl: string;
  workspace: string;
  runnerTemp: string;
  /** The event payload (GITHUB_EVENT_PATH), `{}` when absent. */
  payload: Record<string, any>;
}

function env(name: string, e: NodeJS.ProcessEnv, fallback = ''): string {
  const v = e[name];
  return v === undefined || v === '' ? fallback : v;
}

/** Builds the Context from an environment (defaults to process.env). Reads the payload file. */
export function contextFromEnv(e: NodeJS.ProcessEnv = process.env): Context {
  let payload: Record<string, any> = {};
  const eventPath = env('GITHUB_EVENT_PATH', e);
  if (eventPath && existsSync(eventPath)) {
    try {
      payload = JSON.parse(readFileSync(eventPath, 'utf8'));
    } catch (err) {
      throw new Error(`GITHUB_EVENT_PATH: cannot parse ${eventPath} as JSON: ${(err as Error).message}`);
    }
  }
  const [owner = '', repo = ''] = env('GITHUB_REPOSITORY', e).split('/');
  return {
    eventName: env('GITHUB_EVENT_NAME', e),
    sha: env('GITHUB_SHA', e),
    ref: env('GITHUB_REF', e),
    refName: env('GITHUB_REF_NAME', e),
    headRef: env('GITHUB_HEAD_REF', e),
    baseRef: env('GITHUB_BASE_REF', e),
    repo: { owner, repo },
    runId: env('GITHUB_RUN_ID', e, '0'),
    runNumber: env('GITHUB_RUN_NUMBER', e, '0'),
    runAttempt: env('GITHUB_RUN_ATTEMPT', e, '1'),
    job: env('GITHUB_JOB', e),
    actor: env('GITHUB_ACTOR', e),
    workflow: env('GITHUB_WORKFLOW', e),
    serverUrl: env('GITHUB_SERVER_URL', e, 'https://github.com'),
    apiUrl: env('GITHUB_API_URL', e, 'https://api.github.com'),
    graphqlUrl: env('GITHUB_GRAPHQL_URL', e, 'https://api.github.com/graphql'),
    workspace: env('GITHUB_WORKSPACE', e, process.cwd()),
    runnerTemp: env('RUNNER_TEMP', e, '/tmp'),
    payload,
  };
}

/** The repository's default branch from the event payload, when the payload says it. */
export function defaultBranchOf(ctx: Context): string | undefined {
  const b = ctx.payload?.repository?.default_branch;
  return typeof b === 'string' && b !== '' ? b : undefined;
}

export function isPullRequestEvent(eventName: string): boolean {
  return eventName === 'pull_request' || eventName === 'pull_request_target';
}
