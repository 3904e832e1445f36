// Build secrets: masked before anything is logged, written to 0600 files in a private 0700
// directory (removed in post), handed to buildx by id and path or env var name only.
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { InputError } from './input-error.js';
import type { Secret } from './inputs.js';
import type { SecretValue } from './leakguard/needles.js';
import { realCwd } from './workdir.js';

/** Lines that carry nothing secret and would only garble the log if masked: `{`, `},`, `]`. */
const PUNCTUATION_ONLY = /^[\s{}[\](),;:]*$/;

/** Masks a value and each of its lines (as given and trimmed), so no line of it can appear in the log. */
function maskValue(value: string): void {
  if (value === '') return;
  core.setSecret(value);
  for (const line of value.split(/\r?\n/)) {
    if (line.trim() === '' || PUNCTUATION_ONLY.test(line)) continue;
    if (line !== value) core.setSecret(line);
    if (line.trim() !== line) core.setSecret(line.trim());
  }
}

/** Masks inline values and the values of the named environment variables. */
export function maskSecrets(secrets: Secret[], env: NodeJS.ProcessEnv = process.env): void {
  for (const s of secrets) {
    if (s.source.kind === 'value') maskValue(s.source.value);
    if (s.source.kind === 'env' && env[s.source.name] !== undefined) maskValue(env[s.source.name]!);
  }
}

/** Checks what must exist before a build: files and environment variables. */
export async function checkSecretSources(secrets: Secret[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const s of secrets) {
    if (s.source.kind === 'file') {
      let st;
      try {
        st = await fs.stat(s.source.path);
        await fs.access(s.source.path, fsc.R_OK);
      } catch {
        throw new InputError('secret-files', `secret "${s.id}": file ${s.source.path} does not exist or cannot be read`);
      }
      if (!st.isFile()) throw new InputError('secret-files', `secret "${s.id}": ${s.source.path} is not a regular file`);
    }
    if (s.source.kind === 'env' && env[s.source.name] === undefined) {
      throw new InputError('secret-envs', `secret "${s.id}": environment variable ${s.source.name} is not set`);
    }
  }
}

/** Largest secret file read for masking and the leak guard (larger ones are read up to this). */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Every secret's value as bytes, for the leak guard. Secret files are read here (up to 1 MiB) and
 * their text is masked too. Call before `withholdEnv` takes the secret-envs variables away.
 */
export async function readSecretValues(secrets: Secret[], env: NodeJS.ProcessEnv = process.env): Promise<SecretValue[]> {
  const out: SecretValue[] = [];
  for (const s of secrets) {
    if (s.source.kind === 'value') out.push({ id: s.id, value: Buffer.from(s.source.value, 'utf8') });
    else if (s.source.kind === 'env') out.push({ id: s.id, value: Buffer.from(env[s.source.name] ?? '', 'utf8') });
    else {
      const fh = await fs.open(s.source.path, 'r');
      try {
        const buf = Buffer.alloc(MAX_FILE_BYTES);
        const { bytesRead } = await fh.read(buf, 0, MAX_FILE_BYTES, 0);
        const value = buf.subarray(0, bytesRead);
        // Text is masked like an inline value; binary data cannot be printed as a log line anyway.
        const text = value.toString('utf8');
        if (!text.includes('\uFFFD') && !text.includes('\0')) maskValue(text);
        out.push({ id: s.id, value });
      } finally {
        await fh.close();
      }
    }
  }
  return out;
}

/** Where this run's secret files go: a fresh name under RUNNER_TEMP (not created yet). */
export function secretDirPath(runnerTemp: string): string {
  return path.join(runnerTemp, `obc-secrets-${randomBytes(6).toString('hex')}`);
}

/** Creates the private directory. Save its path in the state first, so post removes it whatever happens. */
export async function createSecretDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

/** The `--secret` spec of a secret: an env one by its variable's name, any other by the file `src`. */
export function secretSpec(s: Secret, src: string): string {
  return s.source.kind === 'env' ? `id=${s.id},env=${s.source.name}` : `id=${s.id},src=${src}`;
}

/** The `--secret` specs a dry run shows: files as `<file>`, since none is written. */
export function secretSpecsForDisplay(secrets: Secret[]): string[] {
  return secrets.map((s) => secretSpec(s, '<file>'));
}

/** Writes inline secrets to files and returns the `--secret` specs for every secret. */
export async function materializeSecrets(secrets: Secret[], dir: string): Promise<string[]> {
  const specs: string[] = [];
  let n = 0;
  for (const s of secrets) {
    if (s.source.kind === 'value') {
      const file = path.join(dir, `s${n++}`);
      // 'wx': never follow or reuse a file someone else put there.
      await fs.writeFile(file, s.source.value, { mode: 0o600, flag: 'wx' });
      specs.push(secretSpec(s, file));
    } else {
      specs.push(secretSpec(s, s.source.kind === 'file' ? path.resolve(realCwd(), s.source.path) : ''));
    }
  }
  return specs;
}

export async function removeSecretDir(dir: string | undefined): Promise<void> {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}

// Words that name a credential in a build-arg key. KEY alone is too common (MONKEY, CACHE_KEY,
// KEYBOARD_LAYOUT): it counts only as a whole word not qualified as harmless.
const CREDENTIAL_WORDS = new Set([
  'PASSWORD',
  'PASSWORDS',
  'PASSWD',
  'PASSPHRASE',
  'TOKEN',
  'TOKENS',
  'SECRET',
  'SECRETS',
  'CREDENTIAL',
  'CREDENTIALS',
  'PAT',
  'APIKEY',
  'ACCESSKEY',
  'PRIVATEKEY',
  'SECRETKEY',
  'AUTHTOKEN',
]);
const CREDENTIAL_SUFFIXES = ['PASSWORD', 'PASSWD', 'TOKEN', 'SECRET', 'APIKEY'];
const HARMLESS_BEFORE_KEY = new Set(['PUBLIC', 'CACHE', 'SORT', 'PRIMARY', 'FOREIGN', 'PARTITION', 'ROUTING', 'IDEMPOTENCY', 'HOT', 'MAP', 'DICT']);
/** A credential word followed by one of these names something about it, not the credential. */
const HARMLESS_AFTER = new Set([
  'ID',
  'IDS',
  'NAME',
  'FILE',
  'PATH',
  'URL',
  'URI',
  'TYPE',
  'FINGERPRINT',
  'LENGTH',
  'SIZE',
  'ALGORITHM',
  'ALG',
  'SERVER',
  'ENDPOINT',
  'EXPIRY',
  'TTL',
  'DIR',
  'DIRECTORY',
  'HOME',
  'PREFIX',
]);

function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter((w) => w !== '');
}

/** True when a build-arg key looks like it holds a credential (NPM_TOKEN, dbPassword, API_KEY). */
export function looksLikeCredential(key: string): boolean {
  const w = words(key);
  for (let i = 0; i < w.length; i++) {
    const word = w[i];
    const next = w[i + 1];
    let hit = CREDENTIAL_WORDS.has(word) || CREDENTIAL_SUFFIXES.some((s) => word.length > s.length && word.endsWith(s));
    if (!hit && (word === 'KEY' || word === 'KEYS')) hit = !(i > 0 && HARMLESS_BEFORE_KEY.has(w[i - 1]));
    if (hit && next !== undefined && HARMLESS_AFTER.has(next)) hit = false;
    if (hit) return true;
  }
  return false;
}

/**
 * One warning per build-arg whose key looks like a credential; the value of such an argument is
 * masked too. Build arguments end up in the image history, provenance (mode=max) and the log.
 */
export function credentialBuildArgWarnings(buildArgs: { key: string; value: string }[]): string[] {
  const out: string[] = [];
  for (const b of buildArgs) {
    if (!looksLikeCredential(b.key)) continue;
    maskValue(b.value);
    out.push(
      `build-args: "${b.key}" looks like a credential. Build arguments are kept in the image's history and provenance; pass it with secrets (or secret-envs) and read it in a RUN --mount=type=secret,id=... step instead.`,
    );
  }
  return out;
}
