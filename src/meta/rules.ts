// The `tags` input: one rule per line, `type=<type>,<attr>=<value>,...` (a line without `type=` is
// a raw value). Rules are returned highest priority first; ties keep their input order.
import { InputError } from '../input-error.js';
import { quoted } from '../clip.js';
import { parseFields, type Field } from './fields.js';
import { listEntries } from './list.js';
import { checkTemplate, type TemplateKind } from './placeholders.js';

type RuleType = 'schedule' | 'semver' | 'pep440' | 'match' | 'edge' | 'ref' | 'raw' | 'sha';
type RefEvent = 'branch' | 'tag' | 'pr';
type ShaFormat = 'short' | 'long';

const DEFAULT_PRIORITY: Readonly<Record<RuleType, number>> = {
  schedule: 1000,
  semver: 900,
  pep440: 900,
  match: 800,
  edge: 700,
  ref: 600,
  raw: 200,
  sha: 100,
};

/** Used when the `tags` input is empty. */
const DEFAULT_RULES = ['type=schedule', 'type=ref,event=branch', 'type=ref,event=tag', 'type=ref,event=pr'];

interface RuleBase {
  /** The rule as written, for messages. */
  source: string;
  priority: number;
  /** Template that must render to `true` or `false`. */
  enable: string;
  /** Own prefix/suffix; when absent the flavor's apply. */
  prefix?: string;
  suffix?: string;
}

export interface ScheduleRule extends RuleBase {
  type: 'schedule';
  pattern: string;
}
export interface VersionRule extends RuleBase {
  type: 'semver' | 'pep440';
  pattern: string;
  value: string;
  match?: RegExp;
}
export interface MatchRule extends RuleBase {
  type: 'match';
  pattern: RegExp;
  patternText: string;
  group: string;
  value: string;
}
export interface EdgeRule extends RuleBase {
  type: 'edge';
  branch: string;
}
export interface RefRule extends RuleBase {
  type: 'ref';
  event: RefEvent;
}
interface RawRule extends RuleBase {
  type: 'raw';
  value: string;
}
export interface ShaRule extends RuleBase {
  type: 'sha';
  format: ShaFormat;
}

export type TagRule = ScheduleRule | VersionRule | MatchRule | EdgeRule | RefRule | RawRule | ShaRule;

const INPUT = 'tags';
const COMMON_ATTRS = ['enable', 'priority', 'prefix', 'suffix'];
const TYPE_ATTRS: Readonly<Record<RuleType, readonly string[]>> = {
  schedule: ['pattern'],
  semver: ['pattern', 'value', 'match'],
  pep440: ['pattern', 'value', 'match'],
  match: ['pattern', 'group', 'value'],
  edge: ['branch'],
  ref: ['event'],
  raw: ['value'],
  sha: ['format'],
};
const REF_EVENTS: readonly string[] = ['branch', 'tag', 'pr'];
const SHA_FORMATS: readonly string[] = ['short', 'long'];

export function parseTagRules(input: string): TagRule[] {
  const sources = listEntries(input, INPUT).map((e) => e.source);
  const rules = (sources.length > 0 ? sources : DEFAULT_RULES).map(parseTagRule);
  // Array.prototype.sort is stable: equal priorities keep the input order
  return rules.sort((a, b) => b.priority - a.priority);
}

function parseTagRule(source: string): TagRule {
  const fail = (message: string): never => {
    throw new InputError(INPUT, `${message} in ${quoted(source)}`);
  };
  const { type, attrs } = readAttributes(parseFields(source, INPUT), fail);
  const allowed = [...COMMON_ATTRS, ...TYPE_ATTRS[type]];
  for (const key of attrs.keys()) {
    if (!allowed.includes(key)) {
      fail(`unknown attribute "${key}" for type=${type} (expected ${allowed.join(', ')})`);
    }
  }
  const template = (key: string, kind: TemplateKind): string | undefined => {
    const text = attrs.get(key);
    if (text !== undefined) {
      const problem = checkTemplate(text, kind);
      if (problem) {
        fail(`${key}: ${problem}`);
      }
    }
    return text;
  };
  const base: RuleBase = {
    source,
    priority: priorityOf(attrs.get('priority'), type, fail),
    enable: enableOf(template('enable', 'global'), fail),
    prefix: template('prefix', 'global'),
    suffix: template('suffix', 'global'),
  };
  const required = (key: string): string => attrs.get(key) ?? fail(`missing ${key}`);
  return typedRule(type, base, { attrs, template, required, fail });
}

/** How the type's own attributes of one rule are read; each failure names the rule. */
interface RuleReader {
  attrs: Map<string, string>;
  /** The attribute, its template checked as `kind`. */
  template: (key: string, kind: TemplateKind) => string | undefined;
  required: (key: string) => string;
  fail: (message: string) => never;
}

/** The rule of `type` from its common part and its own attributes. */
function typedRule(type: RuleType, base: RuleBase, r: RuleReader): TagRule {
  const { attrs, template, required, fail } = r;
  switch (type) {
    case 'schedule':
      return { ...base, type, pattern: template('pattern', 'schedule') ?? 'nightly' };
    case 'semver':
    case 'pep440': {
      required('pattern');
      const matchText = attrs.get('match') ?? '';
      return {
        ...base,
        type,
        pattern: template('pattern', type) as string,
        value: template('value', 'global') ?? '',
        match: matchText === '' ? undefined : compileRegex(matchText, false, 'match', fail),
      };
    }
    case 'match': {
      const patternText = required('pattern');
      const group = attrs.get('group') ?? '0';
      if (group === '' || Number.isNaN(Number(group))) {
        fail(`invalid group "${group}" (expected a number)`);
      }
      return {
        ...base,
        type,
        pattern: compileRegex(patternText, true, 'pattern', fail),
        patternText,
        group,
        value: template('value', 'global') ?? '',
      };
    }
    case 'edge':
      return { ...base, type, branch: attrs.get('branch') ?? '' };
    case 'ref': {
      const event = required('event');
      if (!REF_EVENTS.includes(event)) {
        fail(`unknown event "${event}" (expected branch, tag or pr)`);
      }
      const prefix = event === 'pr' && base.prefix === undefined ? 'pr-' : base.prefix;
      return { ...base, prefix, type, event: event as RefEvent };
    }
    case 'raw':
      required('value');
      return { ...base, type, value: template('value', 'global') as string };
    case 'sha': {
      const format = attrs.get('format') ?? 'short';
      if (!SHA_FORMATS.includes(format)) {
        fail(`unknown format "${format}" (expected short or long)`);
      }
      return { ...base, prefix: base.prefix ?? 'sha-', type, format: format as ShaFormat };
    }
  }
}

const VALUE_TYPES: readonly RuleType[] = ['semver', 'pep440', 'match', 'raw'];

function readAttributes(fields: Field[], fail: (m: string) => never): { type: RuleType; attrs: Map<string, string> } {
  let type: RuleType = 'raw';
  for (const f of fields.filter((f) => f.key === 'type')) {
    if (!Object.hasOwn(DEFAULT_PRIORITY, f.value)) {
      fail(`unknown type "${f.value}"`);
    }
    type = f.value as RuleType;
  }
  const takesValue = VALUE_TYPES.includes(type);
  const attrs = new Map<string, string>();
  for (const f of fields) {
    if (f.key === 'type') {
      continue;
    }
    if (f.key !== undefined) {
      attrs.set(f.key, f.value);
    } else if (takesValue) {
      // a bare field is the value (`type=raw,foo` or just `foo`); later fields win, as in metadata-action
      attrs.set('value', f.value);
    } else if (f.value !== '') {
      fail(`unexpected value "${f.value}" for type=${type} (expected key=value)`);
    }
  }
  return { type, attrs };
}

function priorityOf(text: string | undefined, type: RuleType, fail: (m: string) => never): number {
  if (text === undefined) {
    return DEFAULT_PRIORITY[type];
  }
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) {
    fail(`invalid priority "${text}" (expected a number)`);
  }
  return n;
}

function enableOf(text: string | undefined, fail: (m: string) => never): string {
  if (text === undefined) {
    return 'true';
  }
  if (!text.includes('{{') && text !== 'true' && text !== 'false') {
    fail(`invalid enable "${text}" (expected true, false or an expression)`);
  }
  return text;
}

/** `/re/flags` or a plain pattern, compiled the way metadata-action compiles it. */
function compileRegex(text: string, allowSlashForm: boolean, key: string, fail: (m: string) => never): RegExp {
  const slashed = allowSlashForm ? /^\/(.+)\/(.*)$/.exec(text) : null;
  try {
    return slashed ? new RegExp(slashed[1], slashed[2]) : new RegExp(text);
  } catch (err) {
    return fail(`invalid ${key} regular expression: ${(err as Error).message}`);
  }
}
