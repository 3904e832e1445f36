// Handlebars expressions, rendered with the same engine and settings as metadata-action (HTML
// escaping included), plus an up-front check so that a typo fails on every run, not only on the
// event that would have rendered it.
import Handlebars from 'handlebars';
import moment from 'moment-timezone';

/** Which names a template may use. */
export type TemplateKind = 'global' | 'schedule' | 'semver' | 'pep440';

const DATE_HELPERS = ['date', 'commit_date'];

const KNOWN_NAMES: Record<TemplateKind, readonly string[]> = {
  global: ['branch', 'tag', 'sha', 'base_ref', 'is_default_branch', 'is_not_default_branch', ...DATE_HELPERS],
  schedule: DATE_HELPERS,
  // own fields of a parsed semver object
  semver: ['raw', 'version', 'major', 'minor', 'patch', 'prerelease', 'build'],
  pep440: ['raw', 'version', 'major', 'minor', 'patch'],
};

/** Handlebars' built-in helpers, which metadata-action's templates can also reach. */
const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log', 'this'];

type Node = hbs.AST.Node;

/** Returns why `template` cannot be used as a `kind` template, or undefined when it can. */
export function checkTemplate(template: string, kind: TemplateKind): string | undefined {
  if (!template.includes('{{')) {
    return undefined;
  }
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(template);
  } catch (err) {
    // Handlebars reports `Parse error on line N:`, the text, a caret line, then what it expected
    const parts = (err as Error).message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const detail = parts.length > 1 ? `${parts[0]} ${parts[parts.length - 1]}` : (parts[0] ?? '');
    return `invalid expression: ${detail}`;
  }
  return checkStatements(program.body, KNOWN_NAMES[kind]);
}

function checkStatements(body: Node[], known: readonly string[]): string | undefined {
  for (const node of body) {
    const problem = checkNode(node, known);
    if (problem) {
      return problem;
    }
  }
  return undefined;
}

function checkNode(node: Node, known: readonly string[]): string | undefined {
  if (node.type !== 'MustacheStatement' && node.type !== 'BlockStatement' && node.type !== 'SubExpression') {
    return undefined;
  }
  const call = node as hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;
  if (call.path.type === 'PathExpression') {
    const path = call.path as hbs.AST.PathExpression;
    if (!path.data && path.depth === 0) {
      const name = path.original;
      if (!known.includes(name) && !BUILTIN_HELPERS.includes(name)) {
        return `unknown expression "{{${name}}}" (known: ${known.join(', ')})`;
      }
      if (DATE_HELPERS.includes(name)) {
        const problem = checkDateCall(name, call);
        if (problem) {
          return problem;
        }
      }
    }
  }
  for (const param of call.params) {
    const problem = checkNode(param, known);
    if (problem) {
      return problem;
    }
  }
  if (node.type === 'BlockStatement') {
    const block = node as hbs.AST.BlockStatement;
    return checkStatements(block.program?.body ?? [], known) ?? checkStatements(block.inverse?.body ?? [], known);
  }
  return undefined;
}

function checkDateCall(name: string, call: { params: hbs.AST.Expression[]; hash?: hbs.AST.Hash }): string | undefined {
  if (call.params.length === 0) {
    return `"{{${name}}}" needs a format, e.g. {{${name} 'YYYYMMDD'}}`;
  }
  for (const pair of call.hash?.pairs ?? []) {
    if (pair.key !== 'tz') {
      return `unknown attribute "${pair.key}" for {{${name}}} (only tz)`;
    }
    if (pair.value.type === 'StringLiteral') {
      const zone = (pair.value as hbs.AST.StringLiteral).value;
      if (!moment.tz.zone(zone)) {
        return `unknown time zone "${zone}" for {{${name}}}`;
      }
    }
  }
  return undefined;
}

/** Renders a template against `data` (functions in it act as helpers, as in metadata-action). */
export function render(template: string, data: object): string {
  return Handlebars.compile(template)(data);
}

/** True when the pattern is exactly one `{{raw}}` expression (whitespace inside the braces allowed). */
export function isRawStatement(pattern: string): boolean {
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parseWithoutProcessing(pattern);
  } catch {
    return false;
  }
  if (program.body.length !== 1 || program.body[0].type !== 'MustacheStatement') {
    return false;
  }
  const path = (program.body[0] as hbs.AST.MustacheStatement).path as hbs.AST.PathExpression;
  return Array.isArray(path.parts) && path.parts.length === 1 && path.parts[0] === 'raw';
}

type HelperOptions = { hash?: Record<string, unknown> };

/** A `{{name 'format' tz='Zone'}}` helper rendering `date` (UTC by default) with moment. */
export function dateHelper(date: Date): (format: unknown, options?: HelperOptions) => string {
  return (format, options) => {
    let tz = 'UTC';
    for (const [key, value] of Object.entries(options?.hash ?? {})) {
      if (key !== 'tz') {
        throw new Error(`Unknown ${key} attribute`);
      }
      tz = String(value);
    }
    if (!moment.tz.zone(tz)) {
      throw new Error(`unknown time zone "${tz}"`);
    }
    return moment(date)
      .tz(tz)
      .format(typeof format === 'string' ? format : undefined);
  };
}
