// Types for runner.mjs: the GitHub Actions runner emulation used by the e2e tests and local run.

export type Entry = 'pre' | 'main' | 'post';

/** Run context. Every field is optional for contextFor(); runStep/runJob fill the rest with it. */
export interface RunContext {
  /** Event name (GITHUB_EVENT_NAME). `event` is accepted as an alias. Default 'push'. */
  eventName?: string;
  event?: string;
  /** Default 'refs/heads/main'. */
  ref?: string;
  /** Default: a stable sha1 of repository@ref. */
  sha?: string;
  /** owner/name. Default 'local/action-test'. */
  repository?: string;
  repositoryOwner?: string;
  repositoryId?: string | number;
  repositoryOwnerId?: string | number;
  /** Derived from ref: refs/heads/x -> x, refs/tags/v1 -> v1, refs/pull/15/merge -> 15/merge. */
  refName?: string;
  /** Derived from ref: 'branch' (heads, pull), 'tag', or ''. */
  refType?: string;
  refProtected?: boolean;
  /** Pull request events: from payload.pull_request.head.ref / base.ref; '' otherwise. */
  headRef?: string;
  baseRef?: string;
  /** Event payload written to GITHUB_EVENT_PATH. Default: a minimal payload for the event. */
  payload?: Record<string, any>;
  /** github.token (used by `${{ github.token }}` defaults; registered as a secret, so masked in
   *  logs). Default: a random fake `ghs_...` token. Not exported as GITHUB_TOKEN (the runner doesn't). */
  token?: string;
  runId?: string | number;
  runNumber?: string | number;
  runAttempt?: string | number;
  job?: string;
  actor?: string;
  actorId?: string | number;
  triggeringActor?: string;
  workflow?: string;
  workflowRef?: string;
  workflowSha?: string;
  /** Default https://github.com; apiUrl/graphqlUrl derive from it (api.github.com or <server>/api/v3). */
  serverUrl?: string;
  apiUrl?: string;
  graphqlUrl?: string;
  retentionDays?: string | number;
  /** GITHUB_ACTION. Default '__self' (what the runner uses for `uses: ./`). */
  action?: string;
  actionRepository?: string;
  actionRef?: string;
  /** Directories; created under `root` when not given. cwd of the action = workspace. */
  workspace?: string;
  runnerTemp?: string;
  toolCache?: string;
  runnerName?: string;
  runnerArch?: string;
  runnerEnvironment?: string;
  /** ACTIONS_RUNTIME_URL / _TOKEN, ACTIONS_CACHE_URL, ACTIONS_RESULTS_URL, set only when given
   *  (they can also be passed through `env`). */
  runtimeUrl?: string;
  runtimeToken?: string;
  cacheUrl?: string;
  resultsUrl?: string;
  /** Temporary root created by contextFor(); removed by disposeContext(). */
  root?: string;
  [key: string]: unknown;
}

/** RunContext after contextFor(): the fields the emulation reads are all set. */
export interface ResolvedContext extends RunContext {
  eventName: string;
  ref: string;
  sha: string;
  repository: string;
  repositoryOwner: string;
  repositoryId: string;
  repositoryOwnerId: string;
  refName: string;
  refType: string;
  refProtected: boolean;
  headRef: string;
  baseRef: string;
  payload: Record<string, any>;
  token: string;
  runId: string;
  runNumber: string;
  runAttempt: string;
  job: string;
  actor: string;
  actorId: string;
  triggeringActor: string;
  workflow: string;
  workflowRef: string;
  workflowSha: string;
  serverUrl: string;
  apiUrl: string;
  graphqlUrl: string;
  retentionDays: string;
  action: string;
  actionRepository: string;
  actionRef: string;
  workspace: string;
  runnerTemp: string;
  toolCache: string;
  runnerName: string;
  runnerArch: string;
  runnerEnvironment: string;
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  /** Unescaped (%0A -> newline etc.) and masked. */
  message: string;
  /** Made relative to the workspace ('/'-separated) when it is an absolute path inside it. */
  file?: string;
  line?: number;
  col?: number;
  endLine?: number;
  endColumn?: number;
  title?: string;
}

export interface CommonOptions {
  /** Directory holding action.yml (or action.yaml). */
  actionDir: string;
  /** `with:` values. Declared inputs the caller leaves out get their action.yml default. */
  inputs?: Record<string, string | number | boolean | undefined | null>;
  context?: RunContext;
  /** Step-level env (the step's `env:`): wins over GITHUB_ENV of earlier steps, loses to INPUT_*,
   *  GITHUB_* and RUNNER_*. */
  env?: Record<string, string | undefined>;
  /** The runner process's environment every step inherits, lowest in precedence (default: this
   *  process's, less GITHUB_*, RUNNER_*, INPUT_*, STATE_*, ACTIONS_* and the test process's own). */
  baseEnv?: Record<string, string | undefined>;
  /** Sets RUNNER_DEBUG=1, keeps ::debug:: lines and echoes commands (as ACTIONS_STEP_DEBUG does). */
  debug?: boolean;
  /** Per entry point. On expiry the process group gets SIGTERM (then SIGKILL after 2 s). */
  timeoutMs?: number;
  /** Values masked from the start, like the job's secrets. (context.token always is.) */
  secrets?: string[];
  /** Called with each (masked) log line as it is produced, e.g. to stream a local run. */
  onLog?: (line: string) => void;
  /** Node binary. Default process.execPath, whatever runs.using says: the e2e harness, local-run and
   *  bench pass the Node that runs.using names (scripts/lib/action-node.mjs). */
  node?: string;
  /**
   * Cancels the entry as the runner does, by a signal to its process (not its group), the first
   * time a (masked) log line satisfies `when`. Default signal SIGTERM, default entry 'main'.
   */
  interrupt?: { when: (line: string) => boolean; signal?: NodeJS.Signals; entry?: Entry };
}

export interface StepOptions extends CommonOptions {
  /** Default 'main'. */
  entry?: Entry;
  /** Saved state for this entry: exported as STATE_<name> (name as given). */
  state?: Record<string, string>;
  /** GITHUB_ENV values of earlier steps. */
  jobEnv?: Record<string, string>;
  /** GITHUB_PATH entries of earlier steps, oldest first (the latest ends up first in PATH). */
  prependPath?: string[];
  /** End processes the entry left behind in its process group when it exits. Default true. */
  killOrphans?: boolean;
}

export interface StepResult {
  entry: Entry;
  /** null when the process was ended by a signal (e.g. timeout). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Wall time from the start of the process until it exited (or was killed at timeoutMs). */
  durationMs: number;
  /** When the process wrote its last line, from its start: durationMs - lastOutputMs is how long it
   *  lingered after it had said everything. */
  lastOutputMs: number;
  /** 'failure' when the exit code is not 0, on timeout, or when a workflow/file command could
   *  not be processed (the runner fails the step then too). */
  conclusion: 'success' | 'failure';
  /** Lines joined by '\n', masked, commands resolved: `Error: msg`, `Warning: msg`, `Notice: msg`,
   *  `[group] name`, `[endgroup]`, `[debug] msg` (debug only); stdout and stderr interleaved. */
  log: string;
  /** stdout as printed (commands unresolved), masked; the data of an add-mask line is `***`. */
  rawStdout: string;
  /** stderr, masked. */
  stderr: string;
  /** GITHUB_OUTPUT (and ::set-output). */
  outputs: Record<string, string>;
  /** GITHUB_STATE (and ::save-state). */
  state: Record<string, string>;
  /** Parsed GITHUB_ENV (NODE_OPTIONS refused with an error annotation, as the runner does). */
  envFile: Record<string, string>;
  /** GITHUB_PATH lines, in file order. */
  paths: string[];
  /** GITHUB_STEP_SUMMARY as written: not masked. */
  summary: string;
  /** The summary as the runner uploads it: masked line by line ('' when the summary is empty). */
  summaryMasked: string;
  annotations: Annotation[];
  /** Names of ::group:: commands, in order. */
  groups: string[];
  /** Each group's start and end (null while open at exit), in ms since the process was spawned. */
  timeline: { name: string; startMs: number; endMs: number | null }[];
  /** When each line of the log was emitted, in ms since the process was spawned. */
  logMs: number[];
  /** ms from the spawn to the first line of output (the Node start and the action's imports). */
  firstOutputMs: number;
  /** How many values this entry registered with ::add-mask:: (never the values). */
  masks: number;
  /** INPUT_* values the entry got, by input name. */
  inputs: Record<string, string>;
  context: ResolvedContext;
  /** Process id (and process group id) of the entry. */
  pid: number | undefined;
  /** With `interrupt`: ms from the signal to the process's exit; null when no signal was sent. */
  interruptedMs: number | null;
}

export interface JobOptions extends CommonOptions {
  /** Called after each entry has exited, before the next one starts (its leftover processes still run). */
  afterEntry?: (result: StepResult) => void | Promise<void>;
}

export interface JobResult {
  /** null when action.yml has no runs.pre (or pre-if is false). */
  pre: StepResult | null;
  main: StepResult;
  /** null when action.yml has no runs.post or post-if was false. */
  post: StepResult | null;
  /** main's outputs. */
  outputs: Record<string, string>;
  /** Logs of the entries that ran, in order, joined by '\n'. */
  log: string;
  /** Whether main's conclusion was 'failure'. */
  mainFailed: boolean;
  /** runs.post-if (default 'always()'). */
  postCondition: string;
  postRan: boolean;
  /** 'failure' when any entry failed. */
  conclusion: 'success' | 'failure';
  context: ResolvedContext;
}

export function runStep(options: StepOptions): Promise<StepResult>;
export function runJob(options: JobOptions): Promise<JobResult>;
export function contextFor(partial?: RunContext): ResolvedContext;
export function disposeContext(context: { root?: string } | undefined | null): void;

export interface ActionManifest {
  name?: string;
  description?: string;
  inputs: Record<string, { description?: string; required?: boolean; default?: unknown; deprecationMessage?: string }>;
  outputs?: Record<string, { description?: string }>;
  runs: { using: string; main: string; pre?: string; post?: string; 'pre-if'?: string; 'post-if'?: string };
  /** Path of the action.yml read. */
  file: string;
  [key: string]: unknown;
}
export function loadAction(actionDir: string): ActionManifest;

export function inputEnvName(name: string): string;
export function refInfo(ref: string): { refName: string; refType: '' | 'branch' | 'tag' };
export function parseKeyValueFile(text: string): { pairs: Array<[string, string]>; error: string | null };
export function parseCommand(
  line: string,
  registered?: Set<string>,
): { command: string; properties: Record<string, string>; data: string } | null;
export function evaluateTemplate(
  template: unknown,
  scope: { github: Record<string, unknown>; runner: Record<string, unknown> },
): string;
export function evaluateCondition(condition: string | undefined, failed: boolean): boolean;

export function runnerProcessEnv(base: Record<string, string | undefined>): Record<string, string>;
