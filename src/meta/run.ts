// The facts of the run that the rules read: the effective git ref, the commit, the dates and the
// default branch, derived from the Context the way metadata-action derives them.
import type { Context } from '../context.js';

export interface RunFacts {
  eventName: string;
  /** Effective ref: for pull_request_target, `refs/pull/<number>/merge` (as metadata-action). */
  ref: string;
  /** Commit SHA (the PR head SHA when asked for). */
  sha: string;
  payload: Record<string, any>;
  defaultBranch?: string;
  /** The current date, for `{{date}}`. */
  now: Date;
  /** The commit date, for `{{commit_date}}`. */
  commitDate: Date;
  /** The `org.opencontainers.image.created` date. */
  created: Date;
  shortShaLength: number;
}

/** The facts a run of the rules needs (planMeta's MetaFacts are these and the annotation levels). */
export interface RunOptions {
  now: Date;
  /** SOURCE_DATE_EPOCH seconds when set; used for org.opencontainers.image.created. */
  sourceDateEpoch?: number;
  /** The repository's default branch (payload repository.default_branch). */
  defaultBranch?: string;
  /** Commit date for {{commit_date}} when the payload has none (metadata-action asks the API); default `now`. */
  commitDate?: Date;
  /** DOCKER_METADATA_PR_HEAD_SHA: on pull request events, use the PR head SHA. */
  prHeadSha?: boolean;
  /** DOCKER_METADATA_SHORT_SHA_LENGTH (default 7). */
  shortShaLength?: number;
}

const DEFAULT_SHORT_SHA_LENGTH = 7;

export function resolveRun(ctx: Context, opts: RunOptions): RunFacts {
  const payload = ctx.payload ?? {};
  let ref = ctx.ref;
  if (ctx.eventName.includes('pull_request_target')) {
    // GITHUB_REF is the base branch there; metadata-action uses the PR's merge ref instead
    ref = `refs/pull/${payload.number}/merge`;
  }
  let sha = ctx.sha;
  const headSha = payload.pull_request?.head?.sha;
  if (opts.prHeadSha && ctx.eventName.includes('pull_request') && headSha != undefined) {
    sha = String(headSha);
  }
  const defaultBranch = opts.defaultBranch ?? stringOrUndefined(payload.repository?.default_branch);
  return {
    eventName: ctx.eventName,
    ref,
    sha,
    payload,
    defaultBranch,
    now: opts.now,
    commitDate: commitDateOf(payload, sha) ?? opts.commitDate ?? opts.now,
    created: opts.sourceDateEpoch !== undefined ? new Date(opts.sourceDateEpoch * 1000) : opts.now,
    shortShaLength: opts.shortShaLength ?? DEFAULT_SHORT_SHA_LENGTH,
  };
}

/** The commit's timestamp when the payload carries it (push payloads do). */
function commitDateOf(payload: Record<string, any>, sha: string): Date | undefined {
  const commits: unknown = payload.commits;
  if (Array.isArray(commits)) {
    const hit = commits.find((c) => c?.id === sha)?.timestamp;
    if (hit) {
      return new Date(hit);
    }
  }
  if (payload.head_commit?.id === sha && payload.head_commit?.timestamp) {
    return new Date(payload.head_commit.timestamp);
  }
  return undefined;
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export const isTagRef = (ref: string): boolean => ref.startsWith('refs/tags/');
export const isBranchRef = (ref: string): boolean => ref.startsWith('refs/heads/');
export const isPullRef = (ref: string): boolean => ref.startsWith('refs/pull/');

export function branchName(run: RunFacts): string {
  return isBranchRef(run.ref) ? run.ref.slice('refs/heads/'.length) : '';
}

export function tagName(run: RunFacts): string {
  return isTagRef(run.ref) ? run.ref.slice('refs/tags/'.length) : '';
}

/** `15` for `refs/pull/15/merge`. */
export function pullName(run: RunFacts): string {
  return run.ref.slice('refs/pull/'.length).replace(/\/merge$/, '');
}

export function shortSha(run: RunFacts): string {
  return run.shortShaLength >= run.sha.length ? run.sha : run.sha.substring(0, run.shortShaLength);
}

export function baseRef(run: RunFacts): string {
  if (isTagRef(run.ref) && run.payload.base_ref != undefined) {
    return String(run.payload.base_ref).replace(/^refs\/heads\//, '');
  }
  const prBase = run.payload.pull_request?.base?.ref;
  if (isPullRef(run.ref) && prBase != undefined) {
    return String(prBase);
  }
  return '';
}

/** Events that always run on the default branch's last commit. */
const DEFAULT_BRANCH_EVENTS = ['create', 'discussion', 'issues', 'schedule'];

export function isDefaultBranch(run: RunFacts): boolean {
  // metadata-action strips `refs/heads/` only, so a tag ref is compared as `refs/tags/...`
  const branch = run.ref.replace(/^refs\/heads\//, '');
  if (branch === '') {
    return false;
  }
  if (run.defaultBranch === branch) {
    return true;
  }
  return DEFAULT_BRANCH_EVENTS.some((e) => run.eventName.includes(e));
}
