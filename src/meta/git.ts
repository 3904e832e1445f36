// `metadata-context: git` (docker/metadata-action's `context: git`): the ref, commit and commit date
// of the checkout in the workspace instead of the workflow's. The decoration parser is pure; gitFacts
// runs git.
import { run } from '../exec.js';
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';

export interface GitFacts {
  ref: string;
  sha: string;
  commitDate?: Date;
}

/**
 * The ref of a detached HEAD from `git show -s --format=%D HEAD` (its decorations, e.g.
 * `HEAD, tag: v1.2.3, origin/main`): a tag first, then a pull request ref (pull/15/merge, as
 * actions/checkout fetches it), then a remote branch. Undefined when none points at HEAD.
 */
export function refFromDecorations(decorations: string): string | undefined {
  const items = decorations
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && d !== 'HEAD' && d !== 'grafted');
  const tag = items.find((d) => d.startsWith('tag: '));
  if (tag) return `refs/tags/${tag.slice('tag: '.length).trim()}`;
  const pull = items.find((d) => /^(?:[^/]+\/)?pull\/\d+\/(?:merge|head)$/.test(d));
  if (pull) return `refs/${pull.slice(pull.indexOf('pull/'))}`;
  const remote = items.find((d) => /^[^/\s]+\/\S+$/.test(d) && !d.endsWith('/HEAD'));
  if (remote) return `refs/heads/${remote.slice(remote.indexOf('/') + 1)}`;
  const local = items.find((d) => /^[^/\s]+$/.test(d));
  return local ? `refs/heads/${local}` : undefined;
}

async function git(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run('git', args, { cwd, silent: true, ignoreReturnCode: true });
    return { code: r.exitCode, out: r.stdout.trim() };
  } catch (err) {
    throw new InputError('metadata-context', `git: cannot run git (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Reads ref, commit and commit date of the checkout in `dir`; an error names metadata-context. */
export async function gitFacts(dir: string): Promise<GitFacts> {
  const sha = await git(['rev-parse', '--verify', 'HEAD'], dir);
  if (sha.code !== 0 || !/^[0-9a-f]{40,64}$/.test(sha.out))
    throw new InputError('metadata-context', `git: ${quoted(dir)} is not a git checkout with a commit (add actions/checkout before this step)`);
  const sym = await git(['symbolic-ref', '-q', 'HEAD'], dir);
  let ref = sym.code === 0 ? sym.out : undefined;
  if (!ref) {
    const deco = await git(['show', '-s', '--format=%D', 'HEAD'], dir);
    ref = refFromDecorations(deco.out);
    if (!ref) throw new InputError('metadata-context', `git: HEAD is detached at ${sha.out.slice(0, 12)} and no tag, branch or pull request ref points at it`);
  }
  const date = await git(['log', '-1', '--format=%cI', 'HEAD'], dir);
  const commitDate = date.code === 0 && date.out ? new Date(date.out) : undefined;
  return { ref, sha: sha.out, ...(commitDate && !Number.isNaN(commitDate.getTime()) ? { commitDate } : {}) };
}
