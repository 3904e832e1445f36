// action.yml against the metadata syntax GitHub documents for a JavaScript action ("Metadata
// syntax for GitHub Actions"), which actionlint does not check: the top-level keys, input and
// output ids and their keys, runs for a node runtime, and branding.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadActionYaml } from '../../scripts/lib/action-docs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const action = loadActionYaml(path.join(ROOT, 'action.yml')) as Record<string, any>;

const TOP = ['name', 'author', 'description', 'inputs', 'outputs', 'runs', 'branding'];
const INPUT_KEYS = ['description', 'required', 'default', 'deprecationMessage'];
const RUNS_NODE_KEYS = ['using', 'main', 'pre', 'pre-if', 'post', 'post-if'];
const NODE_RUNTIMES = ['node20', 'node24'];
const COLORS = ['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark'];
/** "must start with a letter or _ and contain only alphanumeric characters, -, or _". */
const ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const unknown = (obj: Record<string, unknown>, allowed: string[]) => Object.keys(obj).filter((k) => !allowed.includes(k));

test('top level: only documented keys; name and description are strings', () => {
  expect(unknown(action, TOP)).toEqual([]);
  expect(typeof action.name).toBe('string');
  expect(typeof action.description).toBe('string');
  if (action.author !== undefined) expect(typeof action.author).toBe('string');
});

test('the description fits the Marketplace listing: under 125 characters', () => {
  expect(action.description.length).toBeLessThan(125);
});

test('inputs: documented ids and keys, a description each, string defaults, required a boolean', () => {
  const bad: string[] = [];
  for (const [id, spec] of Object.entries<Record<string, unknown>>(action.inputs ?? {})) {
    if (!ID.test(id)) bad.push(`${id}: not a valid input id`);
    for (const k of unknown(spec, INPUT_KEYS)) bad.push(`${id}: unknown key ${k}`);
    if (typeof spec.description !== 'string' || !spec.description) bad.push(`${id}: no description`);
    if (spec.default !== undefined && typeof spec.default !== 'string') bad.push(`${id}: default is a ${typeof spec.default}, not a string`);
    if (spec.required !== undefined && typeof spec.required !== 'boolean') bad.push(`${id}: required is not a boolean`);
  }
  expect(bad).toEqual([]);
  const lower = Object.keys(action.inputs).map((k) => k.toLowerCase());
  expect(new Set(lower).size).toBe(lower.length); // ids are case-insensitive
});

test('outputs of a JavaScript action: documented ids, a description each, no value', () => {
  const bad: string[] = [];
  for (const [id, spec] of Object.entries<Record<string, unknown>>(action.outputs ?? {})) {
    if (!ID.test(id)) bad.push(`${id}: not a valid output id`);
    for (const k of unknown(spec, ['description'])) bad.push(`${id}: unknown key ${k}`);
    if (typeof spec.description !== 'string' || !spec.description) bad.push(`${id}: no description`);
  }
  expect(bad).toEqual([]);
});

test('runs: a node runtime, main, and the pre/post keys only, naming files of dist/', () => {
  const runs = action.runs;
  expect(unknown(runs, RUNS_NODE_KEYS)).toEqual([]);
  expect(NODE_RUNTIMES).toContain(runs.using);
  expect(typeof runs.main).toBe('string');
  for (const k of ['main', 'pre', 'post']) {
    if (runs[k] === undefined) continue;
    expect([k, runs[k]]).toEqual([k, expect.stringMatching(/^dist\/.+\.js$/)]);
  }
  if (runs['post-if'] !== undefined) expect(runs.post).toBeDefined();
  if (runs['pre-if'] !== undefined) expect(runs.pre).toBeDefined();
});

test('the entry points exist once built', () => {
  if (!existsSync(path.join(ROOT, 'dist'))) return;
  for (const k of ['main', 'post']) expect([k, existsSync(path.join(ROOT, action.runs[k]))]).toEqual([k, true]);
});

test('branding: a documented color and a Feather icon name', () => {
  expect(unknown(action.branding, ['icon', 'color'])).toEqual([]);
  expect(COLORS).toContain(action.branding.color);
  expect(action.branding.icon).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
});
