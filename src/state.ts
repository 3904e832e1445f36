// What main hands to post, typed, in one state entry. Never holds a secret value.
import * as core from '@actions/core';
import type { IndexKeys } from './cache/keys.js';
import type { CachePaths } from './cache/store.js';
import type { MountsState } from './cache/mounts.js';

export interface PostState {
  version: 1;
  /** Main got as far as running the build, and the build succeeded. */
  buildSucceeded: boolean;
  /** Main was stopped by this signal (the run was cancelled): post saves nothing. */
  cancelled?: string;
  /** This action's working files under RUNNER_TEMP; post removes them after a cancelled or failed run. */
  workDir?: string;
  secretDir?: string;
  dockerConfig?: string;
  loggedIn: string[];
  /** A builder this action created is removed by post, unless keep (keep-builder: true). */
  builder?: { name: string; created: boolean; keep?: boolean; keepState?: boolean };
  /** The build succeeded but the test-run commands failed: nothing was pushed (the layer cache is saved). */
  testFailed?: boolean;
  cache?: {
    save: boolean;
    /** Why the cache will not be saved, when it will not. */
    saveSkipReason?: string;
    scope: string;
    keys: IndexKeys;
    paths: CachePaths;
    held: Record<string, string>;
    /** Main found that the build made nothing the restored cache lacked: post saves nothing. */
    unchanged?: boolean;
    /** The cache export BuildKit reported; post saves the export only if it is still this one. */
    exportDigest?: string;
    /** How long the build took (set after a successful build). */
    buildMs?: number;
  };
  /** Cache mounts restored by main, for post to save (cache-mounts). */
  mounts?: MountsState;
}

const KEY = 'obc';

export function saveState(s: PostState): void {
  core.saveState(KEY, JSON.stringify(s));
}

/**
 * The one owner of what main hands to post. Phases never save state themselves: they call update
 * before the effect that post must know about (a builder created, a login written), and the whole
 * state is saved at once.
 */
export interface StateKeeper {
  readonly state: Readonly<PostState>;
  update(patch: Partial<PostState>): void;
}

export function stateKeeper(initial: PostState, save: (s: PostState) => void = saveState): StateKeeper {
  let current: PostState = { ...initial };
  return {
    get state() {
      return current;
    },
    update(patch) {
      current = { ...current, ...patch };
      save(current);
    },
  };
}

export function loadState(): PostState | undefined {
  const raw = core.getState(KEY);
  if (!raw) return undefined;
  try {
    const s = JSON.parse(raw) as PostState;
    return s.version === 1 ? s : undefined;
  } catch {
    return undefined;
  }
}
