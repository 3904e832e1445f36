// Registry logins: the `registry-auth` list, which registries to log in to (including the automatic
// ghcr.io login with github-token), keeping the credentials in the job's private Docker config, and
// `docker login` with the password on stdin. No message here ever holds a password.
import { quoted } from '../clip.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { InputError } from '../input-error.js';
import { run, lastMeaningfulLine } from '../exec.js';
import { LoginError } from './docker.js';

export interface RegistryCredential {
  /** Normalized registry host (`docker.io` for Docker Hub). */
  registry: string;
  username: string;
  password: string;
}

export type LoginSource = 'registry' | 'registry-auth' | 'github-token';

export interface PlannedLogin extends RegistryCredential {
  /** The input the credentials came from (named in errors). */
  input: LoginSource;
}

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;

/** `https://Index.Docker.io/v1/` -> `docker.io`, `https://ghcr.io/` -> `ghcr.io`; '' -> `docker.io`. */
export function normalizeRegistry(raw: string): string {
  let r = raw.trim().replace(/^[a-z]+:\/\//i, '');
  r = r.replace(/\/.*$/, '').toLowerCase();
  if (r === '' || HUB_ALIASES.has(r)) return 'docker.io';
  return r;
}

export function registryLabel(host: string): string {
  return host === 'docker.io' ? 'Docker Hub' : host;
}

/** The registry host of an image name (`ghcr.io/acme/app` -> `ghcr.io`, `acme/app` -> `docker.io`). */
export function imageRegistry(image: string): string {
  const first = image.split('/')[0];
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return normalizeRegistry(first);
  return 'docker.io';
}

const KEYS = ['registry', 'username', 'password'] as const;
type Key = (typeof KEYS)[number];

/**
 * `registry-auth`: a list of entries, each starting with `- `, one `key: value` per line:
 *
 *   - registry: ghcr.io
 *     username: octocat
 *     password: ${{ secrets.GHCR_TOKEN }}
 *
 * A value is the rest of the line after `key:`, without surrounding spaces; quotes are not
 * interpreted. Blank lines and lines starting with `#` are skipped.
 */
export function parseRegistryAuth(raw: string): RegistryCredential[] {
  const name = 'registry-auth';
  const entries: Partial<Record<Key, string>>[] = [];
  const lines = raw.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^\s*(-\s+)?([A-Za-z_-]+)\s*:(.*)$/.exec(line);
    if (!m) throw new InputError(name, `line ${i + 1}: expected "key: value" with key registry, username or password (the line is not shown)`);
    const [, dash, keyRaw, rest] = m;
    const key = keyRaw.toLowerCase();
    if (!(KEYS as readonly string[]).includes(key)) throw new InputError(name, `line ${i + 1}: unknown key ${quoted(keyRaw)} (expected registry, username or password)`);
    if (dash) entries.push({});
    else if (entries.length === 0) throw new InputError(name, `line ${i + 1}: each entry starts with "- ", e.g. "- registry: ghcr.io"`);
    const entry = entries[entries.length - 1];
    if (entry[key as Key] !== undefined) throw new InputError(name, `entry ${entries.length}: ${quoted(key)} is given twice`);
    entry[key as Key] = rest.trim();
  }
  const seen = new Set<string>();
  return entries.map((e, idx) => {
    const n = idx + 1;
    if (!e.registry) throw new InputError(name, `entry ${n}: no registry`);
    const registry = normalizeRegistry(e.registry);
    if (!HOST_RE.test(registry)) throw new InputError(name, `entry ${n}: invalid registry ${quoted(e.registry)}`);
    if (!e.username) throw new InputError(name, `entry ${n} (${registry}): no username`);
    if (/\s/.test(e.username)) throw new InputError(name, `entry ${n} (${registry}): the username contains a space`);
    if (!e.password) throw new InputError(name, `entry ${n} (${registry}): no password (is the secret set?)`);
    if (seen.has(registry)) throw new InputError(name, `${registryLabel(registry)} is listed twice`);
    seen.add(registry);
    return { registry, username: e.username, password: e.password };
  });
}

export interface LoginInputs {
  registry: string;
  username: string;
  password: string;
  registryAuth: RegistryCredential[];
  githubToken: string;
}

export interface LoginPlan {
  logins: PlannedLogin[];
  /** Why an automatic login was or was not planned (for the log). */
  notes: string[];
}

/**
 * Who logs in where: the single `registry`/`username`/`password` inputs, every `registry-auth`
 * entry, and ghcr.io with github-token as `actor` when an image is on ghcr.io and nothing else gives
 * ghcr.io credentials (neither these inputs nor a login already in the user's Docker config).
 */
export function planLogins(li: LoginInputs, images: string[], actor: string, alreadyLoggedIn: ReadonlySet<string>): LoginPlan {
  const logins: PlannedLogin[] = [];
  const notes: string[] = [];
  if (li.username || li.password) {
    if (!li.username || !li.password) {
      throw new InputError(li.username ? 'password' : 'username', `registry login to ${registryLabel(normalizeRegistry(li.registry))} needs both username and password`);
    }
    const registry = normalizeRegistry(li.registry);
    if (!HOST_RE.test(registry)) throw new InputError('registry', `invalid registry ${quoted(li.registry.trim())}`);
    logins.push({ registry, username: li.username, password: li.password, input: 'registry' });
  } else if (li.registry.trim()) {
    notes.push(`registry is ${li.registry.trim()} but username and password are empty: no login with them.`);
  }
  for (const c of li.registryAuth) {
    if (logins.some((l) => l.registry === c.registry)) {
      throw new InputError('registry-auth', `${registryLabel(c.registry)} is also given by the registry/username/password inputs`);
    }
    logins.push({ ...c, input: 'registry-auth' });
  }
  const ghcr = 'ghcr.io';
  if (images.some((i) => imageRegistry(i) === ghcr) && !logins.some((l) => l.registry === ghcr)) {
    if (alreadyLoggedIn.has(ghcr)) notes.push('ghcr.io: using the login already in the Docker config.');
    else if (!li.githubToken) notes.push('ghcr.io: no github-token, so no automatic login.');
    else if (!actor) notes.push('ghcr.io: GITHUB_ACTOR is not set, so no automatic login.');
    else {
      logins.push({ registry: ghcr, username: actor, password: li.githubToken, input: 'github-token' });
      notes.push(`ghcr.io: logging in automatically as ${actor} with github-token.`);
    }
  }
  return { logins, notes };
}

/** The key `docker login` files a registry's credentials under in config.json. */
export function configKey(host: string): string {
  return host === 'docker.io' ? 'https://index.docker.io/v1/' : host;
}

/** Registries the Docker config already has credentials for (auths entries or a credential helper). */
export function configuredRegistries(configText: string): Set<string> {
  const out = new Set<string>();
  try {
    const c = JSON.parse(configText) as { auths?: Record<string, unknown>; credHelpers?: Record<string, string> };
    for (const k of Object.keys(c.auths ?? {})) out.add(normalizeRegistry(k));
    for (const [k, v] of Object.entries(c.credHelpers ?? {})) if (v) out.add(normalizeRegistry(k));
  } catch {
    /* not JSON: nothing configured */
  }
  return out;
}

/**
 * The config with the credentials of `hosts` kept in the file itself (so in the private
 * DOCKER_CONFIG that post deletes), never handed to a credential store or helper: an empty
 * credHelpers entry makes the Docker CLI use the file for that registry.
 */
export function isolateCredentials(configText: string, hosts: string[]): string {
  let c: Record<string, any>;
  try {
    c = JSON.parse(configText);
    if (c === null || typeof c !== 'object' || Array.isArray(c)) c = {};
  } catch {
    c = {};
  }
  const helpers = (c.credHelpers ?? {}) as Record<string, string>;
  for (const h of hosts) {
    const key = configKey(h);
    if (c.credsStore || helpers[key]) helpers[key] = '';
  }
  if (Object.keys(helpers).length) c.credHelpers = helpers;
  return JSON.stringify(c, null, 2);
}

export async function prepareConfigForLogins(dockerConfig: string, hosts: string[]): Promise<void> {
  const file = path.join(dockerConfig, 'config.json');
  const text = await fs.readFile(file, 'utf8').catch(() => '{}');
  await fs.writeFile(file, isolateCredentials(text, hosts), { mode: 0o600 });
}

/**
 * Writes a credential for `host` straight into the private config (no `docker login`, which would
 * try to reach the host): buildx hands it to BuildKit when the registry asks. Returns a function
 * that removes it again.
 */
export async function writeCredential(dockerConfig: string, host: string, username: string, password: string): Promise<() => Promise<void>> {
  const file = path.join(dockerConfig, 'config.json');
  const edit = async (change: (c: Record<string, any>) => void) => {
    const c = JSON.parse(isolateCredentials(await fs.readFile(file, 'utf8').catch(() => '{}'), [host]));
    change(c);
    await fs.writeFile(file, JSON.stringify(c, null, 2), { mode: 0o600 });
  };
  await edit((c) => {
    c.auths = { ...(c.auths ?? {}), [host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  });
  return () =>
    edit((c) => {
      if (c.auths) delete c.auths[host];
      if (c.credHelpers && c.credHelpers[host] === '') delete c.credHelpers[host];
    });
}

/** `docker login` with the password on stdin; a refusal is one line naming the input and registry. */
export async function login(l: PlannedLogin, env: Record<string, string>): Promise<void> {
  const argv = ['login', '--username', l.username, '--password-stdin'];
  if (l.registry !== 'docker.io') argv.push(l.registry);
  const res = await run('docker', argv, { env, input: l.password, silent: true, ignoreReturnCode: true });
  if (res.exitCode !== 0) {
    const why = lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `docker login exited with ${res.exitCode}`;
    throw new LoginError(`${l.input}: login to ${registryLabel(l.registry)} as ${l.username} failed: ${why}`);
  }
  core.info(`Logged in to ${registryLabel(l.registry)} as ${l.username} (${l.input}).`);
}

export async function logout(hosts: string[], env: Record<string, string>): Promise<void> {
  for (const h of hosts) {
    await run('docker', ['logout', ...(h === 'docker.io' || h === '' ? [] : [h])], { env, silent: true, ignoreReturnCode: true });
  }
}
