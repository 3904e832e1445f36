// Evaluation of the tag rules against the run: the version (first tag), the other tags, and
// whether `latest` is added, following metadata-action's algorithm.
import Handlebars from 'handlebars';
import pep440 from '@renovatebot/pep440';
import semver from 'semver';
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import type { Flavor } from './flavor.js';
import { isRawStatement, render } from './placeholders.js';
import type { EdgeRule, MatchRule, RefRule, ScheduleRule, ShaRule, TagRule, VersionRule } from './rules.js';
import { branchName, isBranchRef, isPullRef, isTagRef, pullName, shortSha, tagName, type RunFacts } from './run.js';
import { scheduleScope, type Renderer } from './scope.js';

export interface Version {
  /** The first tag produced (highest priority); undefined when no rule produced one. */
  main?: string;
  /** The other tags, in rule order, without duplicates. */
  partial: string[];
  latest: boolean;
}

/** Tag characters Docker accepts; every run of other characters becomes `-`. */
function sanitizeTag(tag: string): string {
  return tag.replace(/[^a-zA-Z0-9._-]+/g, '-');
}

interface Candidate {
  value: string;
  /** Whether this rule turns `latest` on in auto mode. */
  autoLatest: boolean;
}

interface EvalEnv {
  run: RunFacts;
  flavor: Flavor;
  renderGlobal: Renderer;
  warnings: string[];
}

export function evaluateRules(rules: TagRule[], flavor: Flavor, run: RunFacts, renderGlobal: Renderer, warnings: string[]): Version {
  const env: EvalEnv = { run, flavor, renderGlobal, warnings };
  let main: string | undefined;
  const partial: string[] = [];
  let latest: boolean | undefined;
  for (const rule of rules) {
    const enabled = renderRule(rule, () => renderGlobal(rule.enable));
    if (enabled !== 'true' && enabled !== 'false') {
      throw new InputError('tags', `enable rendered ${quoted(enabled)} (expected true or false) in ${quoted(rule.source)}`);
    }
    if (enabled === 'false') {
      continue;
    }
    const candidate = renderRule(rule, () => candidateOf(rule, env));
    if (candidate === undefined || candidate.value === '') {
      continue;
    }
    const value = sanitizeTag(candidate.value);
    if (main === undefined) {
      main = value;
    } else if (value !== main && !partial.includes(value)) {
      partial.push(value);
    }
    // the first rule that produces a tag decides `latest`
    latest ??= flavor.latest === 'auto' ? candidate.autoLatest : flavor.latest === 'true';
  }
  return { main, partial, latest: latest ?? false };
}

/** Docker's limit on a tag's length (distribution/reference: [\w][\w.-]{0,127}). */
const MAX_TAG_LENGTH = 128;

/** Refuses a tag Docker would refuse: longer than MAX_TAG_LENGTH, or starting with "." or "-". */
export function checkTagNames(names: string[]): void {
  for (const t of names) {
    if (t.length > MAX_TAG_LENGTH) throw new InputError('tags', `tag ${quoted(t)} is ${t.length} characters long (Docker allows at most ${MAX_TAG_LENGTH})`);
    if (/^[.-]/.test(t)) throw new InputError('tags', `tag ${quoted(t)} starts with ${quoted(t[0])} (a Docker tag starts with a letter, digit or "_")`);
  }
}

/** The tag names, in output order: version, the others, then `latest` when on. */
export function tagNamesOf(version: Version, flavor: Flavor): string[] {
  if (!version.main) {
    return [];
  }
  const names = [version.main, ...version.partial];
  if (version.latest) {
    // metadata-action adds the flavor prefix/suffix to latest as written (not rendered)
    const prefix = flavor.prefixLatest ? flavor.prefix : '';
    const suffix = flavor.suffixLatest ? flavor.suffix : '';
    names.push(sanitizeTag(`${prefix}latest${suffix}`));
  }
  return names;
}

/** Runs `fn`, turning a rendering failure into a InputError that quotes the rule. */
function renderRule<T>(rule: TagRule, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) {
      throw err;
    }
    throw new InputError('tags', `${(err as Error).message.split('\n')[0]} in ${quoted(rule.source)}`);
  }
}

function candidateOf(rule: TagRule, env: EvalEnv): Candidate | undefined {
  switch (rule.type) {
    case 'schedule':
      return scheduleCandidate(rule, env);
    case 'semver':
      return semverCandidate(rule, env);
    case 'pep440':
      return pep440Candidate(rule, env);
    case 'match':
      return matchCandidate(rule, env);
    case 'edge':
      return edgeCandidate(rule, env);
    case 'ref':
      return refCandidate(rule, env);
    case 'raw':
      return { value: affix(env.renderGlobal(rule.value), rule, env), autoLatest: false };
    case 'sha':
      return shaCandidate(rule, env);
  }
}

/** Adds the rule's own prefix/suffix, or else the flavor's (all rendered as global expressions). */
function affix(value: string, rule: TagRule, env: EvalEnv): string {
  const prefix = rule.prefix ?? env.flavor.prefix;
  const suffix = rule.suffix ?? env.flavor.suffix;
  return `${prefix === '' ? '' : env.renderGlobal(prefix)}${value}${suffix === '' ? '' : env.renderGlobal(suffix)}`;
}

function scheduleCandidate(rule: ScheduleRule, env: EvalEnv): Candidate | undefined {
  if (!env.run.eventName.includes('schedule')) {
    return undefined;
  }
  return { value: affix(render(rule.pattern, scheduleScope(env.run)), rule, env), autoLatest: false };
}

/** The value a semver/pep440/match rule reads: its `value` (rendered) or the git tag. */
function versionSource(rule: VersionRule | MatchRule, env: EvalEnv): string | undefined {
  if (rule.value !== '') {
    return env.renderGlobal(rule.value);
  }
  return isTagRef(env.run.ref) ? tagName(env.run) : undefined;
}

/** Applies a semver/pep440 `match=` (first capture group), then turns `/` into `-`. */
function matchedVersion(raw: string, rule: VersionRule, env: EvalEnv): string {
  let v = raw;
  if (rule.match) {
    const m = v.match(rule.match);
    if (!m) {
      env.warnings.push(`${rule.match.source} does not match ${v}.`);
    } else if (m[1] === undefined) {
      throw new InputError('tags', `match has no capture group 1 in ${quoted(rule.source)}`);
    } else {
      v = m[1];
    }
  }
  return v.replace(/\//g, '-');
}

function semverCandidate(rule: VersionRule, env: EvalEnv): Candidate | undefined {
  const raw = versionSource(rule, env);
  if (raw === undefined) {
    return undefined;
  }
  const v = matchedVersion(raw, rule, env);
  if (!semver.valid(v)) {
    env.warnings.push(`${v} is not a valid semver. More info: https://semver.org/`);
    return undefined;
  }
  const parsed = semver.parse(v, { loose: true });
  // a pre-release only ever gives its full version (or {{raw}} when that is the whole pattern)
  if (semver.prerelease(v)) {
    const pattern = isRawStatement(rule.pattern) ? rule.pattern : '{{version}}';
    return { value: affix(Handlebars.compile(pattern)(parsed), rule, env), autoLatest: false };
  }
  return { value: affix(Handlebars.compile(rule.pattern)(parsed), rule, env), autoLatest: true };
}

function pep440Candidate(rule: VersionRule, env: EvalEnv): Candidate | undefined {
  const raw = versionSource(rule, env);
  if (raw === undefined) {
    return undefined;
  }
  const v = matchedVersion(raw, rule, env);
  const explained = pep440.valid(v) ? pep440.explain(v) : null;
  if (!explained) {
    env.warnings.push(`${v} does not conform to PEP 440. More info: https://www.python.org/dev/peps/pep-0440`);
    return undefined;
  }
  if (explained.is_prerelease || explained.is_postrelease || explained.is_devrelease) {
    const value = isRawStatement(rule.pattern) ? v : (pep440.clean(v) ?? v);
    return { value: affix(value, rule, env), autoLatest: false };
  }
  const scope = {
    raw: () => v,
    version: () => pep440.clean(v),
    major: () => pep440.major(v),
    minor: () => pep440.minor(v),
    patch: () => pep440.patch(v),
  };
  return { value: affix(render(rule.pattern, scope), rule, env), autoLatest: true };
}

function matchCandidate(rule: MatchRule, env: EvalEnv): Candidate | undefined {
  const raw = versionSource(rule, env);
  if (raw === undefined) {
    return undefined;
  }
  const m = raw.match(rule.pattern);
  if (!m) {
    env.warnings.push(`${rule.patternText} does not match ${raw}.`);
    return undefined;
  }
  const group = (m as unknown as Record<string, string | undefined>)[rule.group];
  if (group === undefined) {
    env.warnings.push(`Group ${rule.group} does not exist for ${rule.patternText} pattern.`);
    return undefined;
  }
  return { value: affix(group, rule, env), autoLatest: true };
}

function edgeCandidate(rule: EdgeRule, env: EvalEnv): Candidate | undefined {
  if (!isBranchRef(env.run.ref)) {
    return undefined;
  }
  const edgeBranch = rule.branch !== '' ? rule.branch : env.run.defaultBranch;
  if (edgeBranch !== branchName(env.run)) {
    return undefined;
  }
  return { value: affix('edge', rule, env), autoLatest: false };
}

function refCandidate(rule: RefRule, env: EvalEnv): Candidate | undefined {
  const { ref } = env.run;
  switch (rule.event) {
    case 'branch':
      return isBranchRef(ref) ? { value: affix(branchName(env.run), rule, env), autoLatest: false } : undefined;
    case 'tag':
      return isTagRef(ref) ? { value: affix(tagName(env.run), rule, env), autoLatest: true } : undefined;
    case 'pr':
      return isPullRef(ref) ? { value: affix(pullName(env.run), rule, env), autoLatest: false } : undefined;
  }
}

function shaCandidate(rule: ShaRule, env: EvalEnv): Candidate | undefined {
  if (!env.run.sha) {
    return undefined;
  }
  const sha = rule.format === 'short' ? shortSha(env.run) : env.run.sha;
  return { value: affix(sha, rule, env), autoLatest: false };
}
