// Every input and output of build-push-action v7, setup-buildx-action v4, login-action v4
// and metadata-action v6 (the fixture, from their documented action.yml) is in the README's
// migration tables, and each one is either accepted here under the same name (action.yml) or has
// its reason in the README. Inputs this action lacks are named at run time (src/migration.ts).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadActionYaml } from '../../scripts/lib/action-docs.mjs';
import { FOREIGN_INPUTS } from '../../src/migration.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const action = loadActionYaml(path.join(ROOT, 'action.yml'));
const ownInputs = new Set(Object.keys(action.inputs ?? {}));
const ownOutputs = new Set(Object.keys(action.outputs ?? {}));
const UPSTREAM: Record<string, { inputs: string[]; outputs: string[]; clash: string[] }> = JSON.parse(
  readFileSync(path.join(ROOT, '__tests__/fixtures/docker-actions/inputs-outputs.json'), 'utf8'),
);
delete (UPSTREAM as Record<string, unknown>)._comment;

/** The rows of the README table under `#### <action>`: name (with " (output)" for outputs) -> text. */
function readmeRows(actionHeading: string): Map<string, string> {
  const start = README.indexOf(`\n#### ${actionHeading}\n`);
  if (start < 0) throw new Error(`README: no "#### ${actionHeading}" migration table`);
  const end = README.slice(start + 1).search(/\n#{2,4} /);
  const section = README.slice(start, end < 0 ? undefined : start + 1 + end);
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([^`]+)`( \(output\))? \| (.*) \|$/gm)) rows.set(`${m[1]}${m[2] ?? ''}`, m[3].trim());
  return rows;
}

const cases = Object.entries(UPSTREAM).flatMap(([act, spec]) => [
  ...spec.inputs.map((name) => ({ act, name, kind: 'input' as const, clash: spec.clash.includes(name) })),
  ...spec.outputs.map((name) => ({ act, name, kind: 'output' as const, clash: false })),
]);

describe('migration tables: every input and output of the four docker actions', () => {
  test('the fixture has the four actions at the documented versions', () => {
    expect(Object.keys(UPSTREAM).sort()).toEqual([
      'docker/build-push-action v7',
      'docker/login-action v4',
      'docker/metadata-action v6',
      'docker/setup-buildx-action v4',
    ]);
  });

  test.each(cases)('$act $kind $name: accepted with the same name, or its reason in the README', ({ act, name, kind, clash }) => {
    const rows = readmeRows(act);
    const row = rows.get(kind === 'output' ? `${name} (output)` : name);
    if (row === undefined) throw new Error(`${act} ${kind} "${name}" is not in the README's "#### ${act}" migration table`);
    const declared = kind === 'input' ? ownInputs.has(name) : ownOutputs.has(name);
    const saysSame = /^Same\b/.test(row);
    if (saysSame && (!declared || clash)) {
      throw new Error(
        `${act} ${kind} "${name}": the README says "Same", but ${clash ? 'the name has another meaning here' : `action.yml has no ${kind} "${name}"`} (add it to action.yml, or give the reason in the README)`,
      );
    }
    if (!saysSame && row.length < 12) throw new Error(`${act} ${kind} "${name}": the README row gives no reason ("${row}")`);
    if (!declared && !saysSame && kind === 'input' && !clash) {
      // Pasted with a value, it must get a message of its own at run time, not only the runner's warning.
      const named = FOREIGN_INPUTS[name] !== undefined;
      if (!named) throw new Error(`${act} input "${name}" is neither in action.yml nor in src/migration.ts FOREIGN_INPUTS`);
    }
  });

  test('every table row is an input or output of that action (no stale rows)', () => {
    for (const [act, spec] of Object.entries(UPSTREAM)) {
      const want = new Set([...spec.inputs, ...spec.outputs.map((o) => `${o} (output)`)]);
      const extra = [...readmeRows(act).keys()].filter((k) => !want.has(k));
      if (extra.length) throw new Error(`README "#### ${act}" has rows that are not in the fixture: ${extra.join(', ')}`);
    }
  });

  test('FOREIGN_INPUTS names only inputs this action does not declare', () => {
    for (const name of Object.keys(FOREIGN_INPUTS))
      if (ownInputs.has(name)) throw new Error(`src/migration.ts: "${name}" is an input of action.yml now; remove it from FOREIGN_INPUTS`);
  });
});
