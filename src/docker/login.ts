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
  /** `ecr` of this login ('auto' when absent). */
  ecr?: EcrMode;
  /** `scope` of this login (none when absent): see parseScope. */
  scope?: string;
}

type LoginSource = 'registry' | 'registry-auth' | 'github-token';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
export const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;

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

/** `ecr`: auto (log in through AWS when the registry is an ECR host), true or false. */
type EcrMode = 'auto' | 'true' | 'false';

/** `ecr` (or an entry's `ecr:`): auto, true or false. `where` names the input in the error. */
export function parseEcr(raw: string, where = 'ecr'): EcrMode {
  const v = raw.trim().toLowerCase();
  if (v === '') return 'auto';
  if (v === 'auto' || v === 'true' || v === 'false') return v;
  throw new InputError(where, `expected auto, true or false, got ${quoted(raw.trim())}`);
}

// Amazon ECR hosts, as docker/login-action recognises them: private registries
// <12-digit account>.dkr.ecr.<region>.amazonaws.com (.com.cn, .eu; dkr-ecr and on.aws forms), and ECR Public.
const ECR_PRIVATE_RE = /^([0-9]{12})\.(?:dkr\.ecr|dkr-ecr)\.([a-z0-9-]+)\.(?:on\.aws|amazonaws\.(?:com(?:\.cn)?|eu))$/;
const ECR_PUBLIC_RE = /^(?:public\.ecr\.aws|ecr-public\.aws\.com)$/;

export function isEcrRegistry(host: string): boolean {
  return ECR_PRIVATE_RE.test(host) || ECR_PUBLIC_RE.test(host);
}

interface EcrTarget {
  /** ECR Public (always us-east-1) or a private registry. */
  public: boolean;
  region: string;
  accountId?: string;
}

/**
 * Pure: whether a login to `host` goes through AWS (`aws ecr get-login-password`), and for which
 * region. ecr: true on a host that is not an ECR name takes the region from AWS_REGION or
 * AWS_DEFAULT_REGION; without one it is an error.
 */
export function planEcr(host: string, mode: EcrMode, env: Record<string, string | undefined>, where: string): EcrTarget | undefined {
  if (mode === 'false') return undefined;
  const envRegion = env.AWS_REGION || env.AWS_DEFAULT_REGION || '';
  if (ECR_PUBLIC_RE.test(host)) return mode === 'auto' || mode === 'true' ? { public: true, region: 'us-east-1' } : undefined;
  const m = ECR_PRIVATE_RE.exec(host);
  if (m) return { public: false, region: m[2], accountId: m[1] };
  if (mode === 'auto') return undefined;
  if (!envRegion)
    throw new InputError(where, `ecr: true, but ${quoted(host)} is not an Amazon ECR host name and neither AWS_REGION nor AWS_DEFAULT_REGION is set`);
  return { public: false, region: envRegion };
}

/**
 * `scope` (docker/login-action): credentials for part of a registry only, kept where buildx looks
 * for scoped credentials: <buildx config>/config/<host>/<repository>[@<actions>] (Docker Hub as
 * registry-1.docker.io). `repository` is a path inside the registry (no "..", no absolute path),
 * `actions` lowercase names separated by commas (e.g. push or pull,push). Returns the trimmed scope.
 */
export function parseScope(raw: string, where = 'scope'): string {
  const s = raw.trim();
  if (s === '') return '';
  const parts = s.split('@');
  if (parts.length > 2) throw new InputError(where, `${quoted(s)} has more than one "@"`);
  const [repo, actions] = parts;
  if (actions !== undefined && !/^[a-z]+(,[a-z]+)*$/.test(actions))
    throw new InputError(where, `${quoted(s)}: the actions after "@" are lowercase names separated by commas (e.g. push)`);
  if (repo !== '' && (repo.startsWith('/') || repo.split('/').some((c) => c === '' || c === '.' || c === '..') || !/^[A-Za-z0-9._/-]+$/.test(repo))) {
    throw new InputError(where, `${quoted(s)} is not a repository path inside the registry (e.g. acme/app or acme/app@push)`);
  }
  return s;
}

/** Where a scoped login is kept, relative to the buildx config directory ($DOCKER_CONFIG/buildx). */
export function scopeConfigDir(host: string, scope: string): string {
  const [repo, actions] = scope.split('@');
  const base = path.posix.join('config', host === 'docker.io' ? 'registry-1.docker.io' : host, repo);
  return actions === undefined ? base : `${base}@${actions}`;
}

/** The login inputs: registry, username, password (with ecr and scope), registry-auth, github-token. */
export interface LoginInputs {
  registry: string;
  username: string;
  password: string;
  /** `ecr`: how the registry/username/password login is made (Amazon ECR through the AWS CLI). */
  ecr?: EcrMode;
  /** `scope`: the registry/username/password login is for this part of the registry only. */
  scope?: string;
  /** More registries to log in to (`registry-auth`), passwords masked by main. */
  registryAuth: RegistryCredential[];
  githubToken: string;
}

interface PlannedLogin extends RegistryCredential {
  /** The input the credentials came from (named in errors). */
  input: LoginSource;
  /** Set when the password comes from AWS (`aws ecr get-login-password`): username and password,
   *  when given, are the AWS access key id and secret access key. */
  ecrTarget?: EcrTarget;
}

interface LoginPlan {
  logins: PlannedLogin[];
  /** Why an automatic login was or was not planned (for the log). */
  notes: string[];
}

const loginKey = (l: { registry: string; scope?: string }) => `${l.registry}\u0000${l.scope ?? ''}`;

/**
 * Who logs in where: the single `registry`/`username`/`password` inputs (with `ecr` and `scope`),
 * every `registry-auth` entry, and ghcr.io with github-token as `actor` when an image is on ghcr.io
 * and nothing else gives ghcr.io credentials (neither these inputs nor a login already in the user's
 * Docker config). An Amazon ECR login (ecr: auto on an ECR host, or ecr: true) may leave username and
 * password empty: the AWS CLI then uses the job's AWS credentials (AWS_* variables or a role).
 */
export function planLogins(
  li: LoginInputs,
  images: string[],
  actor: string,
  alreadyLoggedIn: ReadonlySet<string>,
  env: Record<string, string | undefined> = {},
): LoginPlan {
  const logins: PlannedLogin[] = [];
  const notes: string[] = [];
  const registry = normalizeRegistry(li.registry);
  const ecrTarget = planEcr(registry, li.ecr ?? 'auto', env, 'ecr');
  if (li.username || li.password || (ecrTarget && li.registry.trim())) {
    if (!ecrTarget && (!li.username || !li.password)) {
      throw new InputError(li.username ? 'password' : 'username', `registry login to ${registryLabel(registry)} needs both username and password`);
    }
    if (ecrTarget && !!li.username !== !!li.password) {
      throw new InputError(
        li.username ? 'password' : 'username',
        `Amazon ECR login to ${registry}: give both the AWS access key id (username) and secret access key (password), or neither (the job's AWS credentials)`,
      );
    }
    if (!HOST_RE.test(registry)) throw new InputError('registry', `invalid registry ${quoted(li.registry.trim())}`);
    logins.push({
      registry,
      username: li.username,
      password: li.password,
      input: 'registry',
      ...(li.scope ? { scope: li.scope } : {}),
      ...(ecrTarget ? { ecrTarget } : {}),
    });
  } else if (li.registry.trim()) {
    notes.push(`registry is ${li.registry.trim()} but username and password are empty: no login with them.`);
  }
  for (const c of li.registryAuth) {
    if (logins.some((l) => loginKey(l) === loginKey(c))) {
      throw new InputError('registry-auth', `${registryLabel(c.registry)} is also given by the registry/username/password inputs`);
    }
    const target = planEcr(c.registry, c.ecr ?? 'auto', env, 'registry-auth');
    if (target && !!c.username !== !!c.password) {
      throw new InputError(
        'registry-auth',
        `Amazon ECR entry ${c.registry}: give both username (AWS access key id) and password (secret access key), or neither`,
      );
    }
    if (!target && (!c.username || !c.password))
      throw new InputError('registry-auth', `${registryLabel(c.registry)}: no ${c.username ? 'password (is the secret set?)' : 'username'}`);
    logins.push({ ...c, input: 'registry-auth', ...(target ? { ecrTarget: target } : {}) });
  }
  const ghcr = 'ghcr.io';
  if (images.some((i) => imageRegistry(i) === ghcr) && !logins.some((l) => l.registry === ghcr && !l.scope)) {
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

/** The `aws` command that prints an ECR login password (the region is an argument, the keys go in the environment). */
export function ecrPasswordCommand(t: EcrTarget): string[] {
  return t.public ? ['ecr-public', 'get-login-password', '--region', 'us-east-1'] : ['ecr', 'get-login-password', '--region', t.region];
}

/** The key `docker login` files a registry's credentials under in config.json. */
function configKey(host: string): string {
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

/** The AWS CLI's ECR login password for `l` (masked at once); username/password are the AWS keys when given. */
async function ecrPassword(l: PlannedLogin, t: EcrTarget, env: Record<string, string>): Promise<string> {
  const awsEnv = { ...env };
  if (l.username) Object.assign(awsEnv, { AWS_ACCESS_KEY_ID: l.username, AWS_SECRET_ACCESS_KEY: l.password });
  let res;
  try {
    res = await run('aws', ecrPasswordCommand(t), { env: awsEnv, silent: true, ignoreReturnCode: true });
  } catch (err) {
    throw new LoginError(
      `${l.input}: Amazon ECR login to ${l.registry} needs the AWS CLI (aws), which could not be run: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const token = res.stdout.trim();
  if (token) core.setSecret(token);
  if (res.exitCode !== 0 || !token) {
    const why = lastMeaningfulLine(res.stderr) || `aws exited with ${res.exitCode}`;
    throw new LoginError(`${l.input}: Amazon ECR login to ${l.registry} failed: aws ${ecrPasswordCommand(t).slice(0, 2).join(' ')}: ${why}`);
  }
  return token;
}

/**
 * `docker login` with the password on stdin; a refusal is one line naming the input and registry.
 * An ECR login gets its password from the AWS CLI first (user AWS); a scoped login is kept in the
 * scoped directory buildx reads (under the job's private Docker config).
 */
export async function login(l: PlannedLogin, env: Record<string, string>): Promise<void> {
  let username = l.username;
  let password = l.password;
  if (l.ecrTarget) {
    password = await ecrPassword(l, l.ecrTarget, env);
    username = 'AWS';
  }
  const loginEnv = { ...env };
  if (l.scope) {
    if (env.BUILDX_CONFIG)
      throw new LoginError(
        `${l.input}: scope: BUILDX_CONFIG is set, but scoped credentials are kept only in this job's private Docker config; unset BUILDX_CONFIG for this step`,
      );
    loginEnv.DOCKER_CONFIG = path.join(env.DOCKER_CONFIG ?? '', 'buildx', scopeConfigDir(l.registry, l.scope));
    await fs.mkdir(loginEnv.DOCKER_CONFIG, { recursive: true, mode: 0o700 });
  }
  const argv = ['login', '--username', username, '--password-stdin'];
  if (l.registry !== 'docker.io') argv.push(l.registry);
  const res = await run('docker', argv, { env: loginEnv, input: password, silent: true, ignoreReturnCode: true });
  const what = `${registryLabel(l.registry)}${l.scope ? ` (scope ${l.scope})` : ''}`;
  if (res.exitCode !== 0) {
    const why = lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `docker login exited with ${res.exitCode}`;
    throw new LoginError(`${l.input}: login to ${what} as ${username} failed: ${why}`);
  }
  core.info(`Logged in to ${what} as ${username} (${l.input}${l.ecrTarget ? ', Amazon ECR' : ''}).`);
}
