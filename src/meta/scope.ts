// The global expressions available in tag values, prefixes, suffixes, `enable`, labels and
// annotations: {{branch}}, {{tag}}, {{sha}}, {{base_ref}}, {{is_default_branch}},
// {{is_not_default_branch}}, {{date '<format>' tz='<zone>'}}, {{commit_date '<format>' tz='<zone>'}}.
import { dateHelper, render } from './placeholders.js';
import { baseRef, branchName, isDefaultBranch, shortSha, tagName, type RunFacts } from './run.js';

export type Renderer = (template: string) => string;

function globalScope(run: RunFacts): object {
  const isDefault = (): string => String(isDefaultBranch(run));
  return {
    branch: () => branchName(run),
    tag: () => tagName(run),
    sha: () => shortSha(run),
    base_ref: () => baseRef(run),
    is_default_branch: isDefault,
    is_not_default_branch: () => (isDefault() === 'false' ? 'true' : 'false'),
    date: dateHelper(run.now),
    commit_date: dateHelper(run.commitDate),
  };
}

/** Renders templates against the run's global expressions. */
export function globalRenderer(run: RunFacts): Renderer {
  const scope = globalScope(run);
  return (template) => render(template, scope);
}

/** The expressions of a `type=schedule` pattern: only the two dates. */
export function scheduleScope(run: RunFacts): object {
  return { date: dateHelper(run.now), commit_date: dateHelper(run.commitDate) };
}
