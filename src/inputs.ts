// The action's inputs, read and validated in one place: the only caller of core.getInput but
// post's reading of secret-envs (src/secret-envs.ts).
import * as core from '@actions/core';
import { parseBuildxRequest } from './docker/buildx-install.js';
import type { BuildxRequest } from './docker/buildx-install.js';
import { parseBuilderOptions } from './docker/builder.js';
import type { BuilderOptions } from './docker/builder.js';
import { parseRegistryAuth } from './docker/registry-auth.js';
import type { LoginInputs } from './docker/login.js';
import { parseEcr, parseScope } from './docker/login.js';
import { parseCacheMounts, parseImage, parseSize } from './cache/mounts-input.js';
import type { CacheMount } from './cache/mounts-input.js';
import { quoted } from './clip.js';
import { InputError } from './input-error.js';
import { lines, splitList } from './inputs-lists.js';
import { platformProblem } from './platforms.js';
import { readBuildInputs } from './inputs-build.js';
import type { BuildInputs, GetInput } from './inputs-build.js';
import { parseBuilderExtra } from './docker/builder-extra.js';
import type { BuilderExtra } from './docker/builder-extra.js';
import type { DistributeMode } from './distribute.js';
import { DEFAULT_QEMU_IMAGE } from './emulation.js';
import { unexpectedInputs } from './migration.js';

type PushMode = 'auto' | 'true' | 'false';
type CacheSaveMode = 'auto' | 'true' | 'false';

export interface Secret {
  id: string;
  /** Where the value comes from: an inline value, a file, or an environment variable. */
  source: { kind: 'value'; value: string } | { kind: 'file'; path: string } | { kind: 'env'; name: string };
}

/** The login inputs (registry, username, password, ecr, scope, registry-auth, github-token) are LoginInputs. */
export interface Inputs extends LoginInputs {
  images: string;
  tags: string;
  /** `metadata-context` (metadata-action's `context`): the ref and commit from the workflow, or from git. */
  metadataContext?: 'workflow' | 'git';
  /** `sep-tags`, `sep-labels`, `sep-annotations`: separators of the tags/tag-names, labels and annotations outputs. */
  sepTags?: string;
  sepLabels?: string;
  sepAnnotations?: string;
  flavor: string;
  labels: string;
  annotations: string;
  context: string;
  file: string;
  target: string;
  buildArgs: { key: string; value: string }[];
  platforms: string[];
  secrets: Secret[];
  push: PushMode;
  /** `buildx-version` and `buildx-download-url`. */
  buildx: BuildxRequest;
  /** driver, endpoint, driver-opts, buildkitd-*, builder-platforms, keep-builder. */
  builder: BuilderOptions;
  cache: boolean;
  cacheScope: string;
  cacheSave: CacheSaveMode;
  /** lazy: fetch cached blobs only when BuildKit asks (docker driver); eager: all before the build. */
  cacheFetch: 'auto' | 'lazy' | 'eager';
  /** `cache-mounts`, `cache-mounts-image`, `cache-mounts-max-size` (see src/cache/mounts-input.ts). */
  cacheMounts?: CacheMount[];
  cacheMountsImage?: string;
  cacheMountsMaxSize?: number;
  provenance: string;
  sbom: string;
  dryRun: boolean;
  /** Leak guard: look for secret values in the image and cache before they leave (default true). */
  secretScan?: boolean;
  /** build-push-action's build options: load, outputs, pull, no-cache, ssh, call, test-run... (src/inputs-build.ts). */
  build: BuildInputs;
  /** `builder` (an existing one), `name`, `append`, `keep-state` (src/docker/builder-extra.ts). */
  builderExtra: BuilderExtra;
  /** `qemu`, `qemu-image`: register QEMU binfmt handlers for platforms the runner cannot run (default on). */
  qemu?: boolean;
  qemuImage?: string;
  /** `distribute`, `distribute-wait` (see src/distribute.ts). */
  distribute?: DistributeMode;
  distributeWaitSeconds?: number;
  /** Inputs given that this action does not have, whose value asks for nothing it does not do. */
  warnings?: string[];
}

/** Inputs read without trimming: `secrets` values are byte-exact, and a separator may be a space or a newline. */
const UNTRIMMED = new Set(['secrets', 'sep-tags', 'sep-labels', 'sep-annotations']);

/** core.getInput, except that the UNTRIMMED inputs keep their surrounding whitespace. */
const getRaw: GetInput = (n) => core.getInput(n, { trimWhitespace: !UNTRIMMED.has(n) });

/**
 * Reads every input through `get` (core.getInput by default) and validates it. Then the inputs the
 * step was given (INPUT_* in `env`) that this action does not read: one whose value asks for
 * something this action does not do is an error naming it, any other a warning (see migration.ts).
 */
export function readInputs(getInput: GetInput = getRaw, env: Record<string, string | undefined> = process.env): Inputs {
  const read = new Set<string>();
  const get: GetInput = (n) => {
    read.add(n);
    return getInput(n);
  };
  const inputs = readDeclared(get);
  const unexpected = unexpectedInputs(env, read);
  const firstError = unexpected.find((u) => u.error);
  if (firstError) throw new InputError(firstError.input, firstError.message);
  if (unexpected.length) inputs.warnings = unexpected.map((u) => `${u.input}: ${u.message}`);
  return inputs;
}

function readDeclared(get: GetInput): Inputs {
  const context = parseContext(get('context'));
  const inputs: Inputs = {
    images: get('images'),
    tags: get('tags'),
    metadataContext: parseMetadataContext(get('metadata-context')),
    sepTags: separator(get('sep-tags')),
    sepLabels: separator(get('sep-labels')),
    sepAnnotations: separator(get('sep-annotations')),
    flavor: get('flavor'),
    labels: get('labels'),
    annotations: get('annotations'),
    context,
    file: get('file').trim(),
    target: parseTarget(get('target')),
    buildArgs: parseBuildArgs(get('build-args')),
    platforms: parsePlatforms(get('platforms')),
    secrets: uniqueSecrets([
      ['secrets', parseSecrets('secrets', get('secrets'))],
      ['secret-files', parsePairs('secret-files', get('secret-files')).map(([id, path]) => ({ id, source: { kind: 'file' as const, path } }))],
      ['secret-envs', parsePairs('secret-envs', get('secret-envs')).map(([id, name]) => ({ id, source: { kind: 'env' as const, name } }))],
    ]),
    push: oneOf('push', get('push'), ['auto', 'true', 'false'], 'auto'),
    registry: get('registry').trim(),
    username: get('username').trim(),
    password: get('password'),
    ecr: parseEcr(get('ecr')),
    scope: parseScope(get('scope')),
    registryAuth: parseRegistryAuth(get('registry-auth')),
    buildx: parseBuildxRequest(get('buildx-version'), get('buildx-download-url')),
    builder: parseBuilderOptions({
      driver: get('driver'),
      endpoint: get('endpoint'),
      driverOpts: get('driver-opts'),
      buildkitdFlags: get('buildkitd-flags'),
      buildkitdConfig: get('buildkitd-config'),
      buildkitdConfigInline: get('buildkitd-config-inline'),
      builderPlatforms: get('builder-platforms'),
      keepBuilder: get('keep-builder'),
    }),
    githubToken: get('github-token'),
    cache: bool('cache', get('cache'), true),
    cacheScope: parseCacheScope(get('cache-scope')),
    cacheSave: oneOf('cache-save', get('cache-save'), ['auto', 'true', 'false'], 'auto'),
    cacheFetch: oneOf('cache-fetch', get('cache-fetch'), ['auto', 'lazy', 'eager'], 'auto'),
    cacheMounts: parseCacheMounts(get('cache-mounts')),
    cacheMountsImage: parseImage(get('cache-mounts-image')),
    cacheMountsMaxSize: parseSize(get('cache-mounts-max-size')),
    provenance: get('provenance').trim(),
    sbom: get('sbom').trim(),
    dryRun: bool('dry-run', get('dry-run'), false),
    secretScan: bool('secret-scan', get('secret-scan'), true),
    build: readBuildInputs(get),
    builderExtra: parseBuilderExtra({ builder: get('builder'), name: get('name'), append: get('append'), keepState: get('keep-state') }),
    ...parseMultiPlatform(get, parsePlatforms(get('platforms'))),
  };
  checkBuilderChoice(inputs);
  return inputs;
}

/** `builder` uses an existing builder as it is; `name` and `append` need a builder the action creates. */
function checkBuilderChoice(i: Inputs): void {
  const x = i.builderExtra;
  const b = i.builder;
  const set: [string, boolean][] = [
    ['driver', b.driver !== 'auto'],
    ['endpoint', b.endpoint !== ''],
    ['driver-opts', b.driverOpts.length > 0],
    ['buildkitd-flags', b.buildkitdFlags !== ''],
    ['buildkitd-config', b.buildkitdConfig !== ''],
    ['buildkitd-config-inline', b.buildkitdConfigInline.trim() !== ''],
    ['builder-platforms', b.platforms.length > 0],
    ['keep-builder', b.keep],
  ];
  const clash = set.find(([, on]) => on);
  if (x.existing && clash)
    throw new InputError(clash[0], `configures a builder the action creates, but builder: ${x.existing} names an existing one (used as it is)`);
  if ((x.name || x.append.length) && b.driver === 'docker') {
    throw new InputError(
      x.name ? 'name' : 'append',
      "the docker driver uses the daemon's own builder, which cannot be named or get nodes; use driver: docker-container",
    );
  }
}

/** Default of `distribute-wait`: seconds a merge waits for platform digests not visible yet. */
export const DEFAULT_DISTRIBUTE_WAIT = 120;

/** `qemu`, `qemu-image`, `distribute` and `distribute-wait`, checked against `platforms`. */
function parseMultiPlatform(get: GetInput, platforms: string[]): Pick<Inputs, 'qemu' | 'qemuImage' | 'distribute' | 'distributeWaitSeconds'> {
  const qemuImage = get('qemu-image').trim() || DEFAULT_QEMU_IMAGE;
  if (/\s/.test(qemuImage) || qemuImage.startsWith('-')) throw new InputError('qemu-image', `expected an image reference, got ${quoted(qemuImage)}`);
  const raw = get('distribute').trim().toLowerCase();
  const distribute: DistributeMode = raw === '' || raw === 'false' ? 'off' : (oneOf('distribute', raw, ['platform', 'merge'], 'platform') as DistributeMode);
  if (distribute === 'platform' && platforms.length !== 1) {
    const what = platforms.length === 0 ? 'none' : `${platforms.length} (${quoted(platforms.join(','))})`;
    throw new InputError(
      'distribute',
      `platform: each job builds exactly one platform, but platforms gives ${what}; give each matrix job one, e.g. platforms: linux/arm64`,
    );
  }
  if (distribute === 'platform' && platforms[0].toLowerCase() === 'local') {
    throw new InputError('distribute', 'platform: give the platform by name (e.g. linux/amd64), not "local": the merge looks its digest up by name');
  }
  if (distribute === 'platform' && get('driver').trim().toLowerCase() === 'docker') {
    throw new InputError('driver', 'docker: distribute: platform pushes by digest, which the docker driver cannot; use driver: auto or docker-container');
  }
  if (distribute === 'merge' && platforms.length === 0) {
    throw new InputError('distribute', 'merge: nothing to merge: list the platforms the platform jobs built in platforms (e.g. linux/amd64,linux/arm64)');
  }
  const w = get('distribute-wait').trim();
  if (w !== '' && !/^\d{1,5}$/.test(w)) throw new InputError('distribute-wait', `expected a whole number of seconds, got ${quoted(w)}`);
  return { qemu: bool('qemu', get('qemu'), true), qemuImage, distribute, distributeWaitSeconds: w === '' ? DEFAULT_DISTRIBUTE_WAIT : Number(w) };
}

/**
 * `context`: a directory or a Git/HTTP URL. build-push-action's `{{defaultContext}}` (its Git
 * context) is not expanded here: the default is the checked-out workspace (see inputs-files.ts).
 */
function parseContext(raw: string): string {
  const c = raw.trim() || '.';
  if (c.includes('{{defaultContext}}')) {
    const sub = c.split('{{defaultContext}}:')[1];
    throw new InputError(
      'context',
      `${quoted(c)}: {{defaultContext}} (docker/build-push-action's Git context) is not expanded here; check out the repository and write ${sub ? `context: ${sub}` : 'no context (the workspace)'}, or give the Git URL`,
    );
  }
  return c;
}

/** A `sep-*` input: the text as given (metadata-action's default is a newline when empty). */
function separator(raw: string): string {
  return raw === '' ? '\n' : raw;
}

/**
 * `metadata-context`, docker/metadata-action's `context` input under another name (here `context`
 * is the build context): workflow (default: the run's ref and commit) or git (the checkout's).
 */
function parseMetadataContext(raw: string): 'workflow' | 'git' {
  return oneOf('metadata-context', raw, ['workflow', 'git'], 'workflow');
}

/** All secrets in input order; a duplicate id is an error naming the input where it repeats. */
function uniqueSecrets(groups: [string, Secret[]][]): Secret[] {
  const seen = new Map<string, string>();
  const out: Secret[] = [];
  for (const [input, secrets] of groups) {
    for (const s of secrets) {
      const first = seen.get(s.id);
      if (first !== undefined) {
        throw new InputError(input, `duplicate secret id ${quoted(s.id)}${first === input ? '' : ` (already given in ${first})`}`);
      }
      seen.set(s.id, input);
      out.push(s);
    }
  }
  return out;
}

function bool(name: string, raw: string, dflt: boolean): boolean {
  const v = raw.trim().toLowerCase();
  if (v === '') return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InputError(name, `expected true or false, got ${quoted(raw.trim())}`);
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[], dflt: T): T {
  const v = raw.trim().toLowerCase();
  if (v === '') return dflt;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(name, `expected one of ${allowed.join(', ')}, got ${quoted(raw.trim())}`);
}

/** `platforms`: each entry os/arch[/variant] with known values (see platforms.ts), or `local`. */
function parsePlatforms(raw: string): string[] {
  const out = splitList(raw);
  for (const p of out) {
    const problem = platformProblem(p);
    if (problem) throw new InputError('platforms', `${quoted(p)}: ${problem}`);
  }
  return out;
}

/** BuildKit's stage name syntax (compared case-insensitively). */
const STAGE_NAME_RE = /^[a-z][a-z0-9_.-]*$/i;

/** `target`: a stage name as BuildKit accepts it; whether the Dockerfile has it is checked in inputs-files.ts. */
function parseTarget(raw: string): string {
  const t = raw.trim();
  if (t !== '' && !STAGE_NAME_RE.test(t)) {
    throw new InputError('target', `${quoted(t)} is not a stage name (a letter, then letters, digits, "-", "_" or ".")`);
  }
  return t;
}

/**
 * `cache-scope`: any text (it is turned into a slug, see cache/keys.ts), but it must name something:
 * at least one letter or digit, so that no scope is only dots, dashes or slashes.
 */
function parseCacheScope(raw: string): string {
  const s = raw.trim();
  if (s !== '' && !/[A-Za-z0-9]/.test(s)) {
    throw new InputError('cache-scope', `${quoted(s)} has no letter or digit (a scope names the cache entries and a directory of the action's own)`);
  }
  return s;
}

const ID_RE = /^[A-Za-z0-9._-]+$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseBuildArgs(raw: string): { key: string; value: string }[] {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InputError('build-args', `expected KEY=VALUE, got ${quoted(line)}`);
    return { key: line.slice(0, eq).trim(), value: line.slice(eq + 1) };
  });
}

function parsePairs(name: string, raw: string): [string, string][] {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    if (eq < 0) throw new InputError(name, `expected id=${name === 'secret-files' ? 'path' : 'ENV_VAR'}, got ${quoted(line)}`);
    const id = line.slice(0, eq).trim();
    if (id === '') throw new InputError(name, `empty secret id in ${quoted(line)}`);
    if (!ID_RE.test(id)) throw new InputError(name, `invalid secret id ${quoted(id)} (use letters, digits, ".", "_" and "-")`);
    const value = line.slice(eq + 1).trim();
    if (value === '') throw new InputError(name, `empty value for secret id ${quoted(id)}`);
    if (name === 'secret-envs' && !ENV_NAME_RE.test(value))
      throw new InputError(name, `secret ${quoted(id)}: ${quoted(value)} is not an environment variable name`);
    return [id, value];
  });
}

/**
 * `secrets`: one `id=value` per line. A value is byte-exact: everything after the first `=` up to
 * the end of the line. A multi-line value is written as `id<<DELIM`, the value's lines, then `DELIM`
 * alone on a line (surrounding spaces ignored); the value is the lines between, joined with "\n"
 * (a trailing newline is kept when an empty line precedes DELIM).
 */
export function parseSecrets(name: string, raw: string): Secret[] {
  const out: Secret[] = [];
  const all = raw.split('\n').map((l) => l.replace(/\r$/, ''));
  for (let i = 0; i < all.length; i++) {
    const line = all[i];
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const heredoc = /^\s*([A-Za-z0-9._-]+)<<([A-Za-z0-9_-]+)\s*$/.exec(line);
    if (heredoc) {
      const [, id, delim] = heredoc;
      const body: string[] = [];
      let j = i + 1;
      while (j < all.length && all[j].trim() !== delim) body.push(all[j++]);
      if (j >= all.length) throw new InputError(name, `secret ${quoted(id)}: no closing line ${quoted(delim)} for "${id}<<${delim}"`);
      out.push({ id, source: { kind: 'value', value: body.join('\n') } });
      i = j;
      continue;
    }
    if (/^\s*<<\S*\s*$/.test(line)) throw new InputError(name, `empty secret id before "<<" on line ${i + 1}`);
    const eq = line.indexOf('=');
    if (eq < 0) throw new InputError(name, `expected id=value on line ${i + 1}, got a line without "=" (values are never shown)`);
    const id = line.slice(0, eq).trim();
    if (id === '') throw new InputError(name, `empty secret id on line ${i + 1} (values are never shown)`);
    // The text before "=" is not shown: on a malformed line it may be part of a value.
    if (!ID_RE.test(id)) throw new InputError(name, `invalid secret id on line ${i + 1}: use letters, digits, ".", "_" and "-" (values are never shown)`);
    out.push({ id, source: { kind: 'value', value: line.slice(eq + 1) } });
  }
  return out;
}
