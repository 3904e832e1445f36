// Renders the README's input and output tables from action.yml, between marker comments, so the
// README cannot drift from the action's interface. Used by `npm run docs` (scripts/docs.mjs) and by
// the README unit test. Types: action-docs.d.mts beside this file.
import { readFileSync } from 'node:fs';
import { load as loadYaml } from 'js-yaml';

export const MARKERS = {
  inputs: ['<!-- inputs:start (generated from action.yml by `npm run docs`) -->', '<!-- inputs:end -->'],
  outputs: ['<!-- outputs:start (generated from action.yml by `npm run docs`) -->', '<!-- outputs:end -->'],
};

/** Reads and parses action.yml. */
export function loadActionYaml(file) {
  const doc = loadYaml(readFileSync(file, 'utf8'));
  if (!doc || typeof doc !== 'object') throw new Error(`${file}: not a YAML mapping`);
  return doc;
}

/** A Markdown table cell: one line, pipes and angle brackets escaped. */
export function cell(text) {
  return String(text ?? '')
    .trim()
    .replace(/\r?\n+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|');
}

function codeCell(text) {
  const s = String(text);
  if (s === '') return '';
  const ticks = s.includes('`') ? '``' : '`';
  return `${ticks}${s.replace(/\|/g, '\\|')}${ticks}`;
}

export function renderInputsTable(action) {
  const rows = ['| Input | Default | Description |', '| --- | --- | --- |'];
  for (const [name, spec] of Object.entries(action.inputs ?? {})) {
    const s = spec ?? {};
    const dflt = s.default === undefined || s.default === null ? '' : codeCell(s.default);
    const req = s.required === true || s.required === 'true' ? '**Required.** ' : '';
    const dep = s.deprecationMessage ? ` **Deprecated:** ${cell(s.deprecationMessage)}` : '';
    rows.push(`| \`${name}\` | ${dflt} | ${req}${cell(s.description)}${dep} |`);
  }
  return rows.join('\n');
}

export function renderOutputsTable(action) {
  const rows = ['| Output | Description |', '| --- | --- |'];
  for (const [name, spec] of Object.entries(action.outputs ?? {})) rows.push(`| \`${name}\` | ${cell(spec?.description)} |`);
  return rows.join('\n');
}

function replaceBetween(text, [start, end], body, what) {
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < 0 || j < i) throw new Error(`README.md: the ${what} markers are missing (${start} ... ${end})`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

/** The README text with both tables regenerated from `action`. */
export function updateReadme(readme, action) {
  let out = replaceBetween(readme, MARKERS.inputs, renderInputsTable(action), 'inputs');
  out = replaceBetween(out, MARKERS.outputs, renderOutputsTable(action), 'outputs');
  return out;
}

/** Names in the first column of the table between the markers, in order. */
export function tableNames(readme, which) {
  const [start, end] = MARKERS[which];
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < 0) return [];
  return [...readme.slice(i, j).matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
}
