#!/usr/bin/env node
// `npm run docs`: regenerates the input and output tables in README.md from action.yml.
//   node scripts/docs.mjs          rewrite README.md
//   node scripts/docs.mjs --check  exit 1 when README.md is out of date (for CI)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadActionYaml, updateReadme } from './lib/action-docs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = path.join(ROOT, 'README.md');
try {
  const readme = readFileSync(readmePath, 'utf8');
  const next = updateReadme(readme, loadActionYaml(path.join(ROOT, 'action.yml')));
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error('README.md: the input/output tables do not match action.yml; run `npm run docs`.');
      process.exit(1);
    }
    console.log('README.md tables match action.yml.');
  } else if (next !== readme) {
    writeFileSync(readmePath, next);
    console.log('README.md: input and output tables regenerated from action.yml.');
  } else {
    console.log('README.md: tables already match action.yml.');
  }
} catch (err) {
  console.error(`docs: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
