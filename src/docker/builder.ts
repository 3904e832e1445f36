// The buildx builder: which driver, the exact `docker buildx create` command line (pure), reading
// back what `docker buildx inspect` says, and creating and removing a builder.
import { quoted } from '../clip.js';
import * as semver from 'semver';
import { InputError } from '../input-error.js';
import { lines, splitList } from '../inputs-lists.js';
import { run, lastMeaningfulLine } from '../exec.js';
import { ToolError } from './docker.js';

const DRIVERS = ['auto', 'docker', 'docker-container', 'remote', 'kubernetes'] as const;
type DriverInput = (typeof DRIVERS)[number];
export type Driver = Exclude<DriverInput, 'auto'>;

export interface BuilderOptions {
  driver: DriverInput;
  /** The builder's endpoint: required for remote (tcp://, unix://...), a Docker context or host otherwise. */
  endpoint: string;
  driverOpts: string[];
  buildkitdFlags: string;
  /** A BuildKit daemon config file, or its content inline (at most one of the two). */
  buildkitdConfig: string;
  buildkitdConfigInline: string;
  /** Platforms the builder node announces (`--platform` of buildx create), not the build's platforms. */
  platforms: string[];
  /** Keep a builder this action created after the job (default: removed in post). */
  keep: boolean;
}

export interface RawBuilderInputs {
  driver: string;
  endpoint: string;
  driverOpts: string;
  buildkitdFlags: string;
  buildkitdConfig: string;
  buildkitdConfigInline: string;
  builderPlatforms: string;
  keepBuilder: string;
}

const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;

/** Validates the builder inputs; every error names its input and the bad entry. */
export function parseBuilderOptions(raw: RawBuilderInputs): BuilderOptions {
  const d = raw.driver.trim().toLowerCase() || 'auto';
  if (!(DRIVERS as readonly string[]).includes(d)) throw new InputError('driver', `expected one of ${DRIVERS.join(', ')}, got ${quoted(raw.driver.trim())}`);
  const driver = d as DriverInput;
  const endpoint = raw.endpoint.trim();
  const driverOpts = lines(raw.driverOpts);
  // Each line is one --driver-opt (buildx reads it as CSV, so one line may hold several key=value).
  for (const o of driverOpts) if (!/^"?[A-Za-z0-9._-]+=/.test(o)) throw new InputError('driver-opts', `expected key=value, got ${quoted(o)}`);
  const platforms = splitList(raw.builderPlatforms);
  for (const p of platforms) if (!PLATFORM_RE.test(p)) throw new InputError('builder-platforms', `expected os/arch[/variant], got ${quoted(p)}`);
  const keepRaw = raw.keepBuilder.trim().toLowerCase();
  if (!['', 'true', 'false'].includes(keepRaw)) throw new InputError('keep-builder', `expected true or false, got ${quoted(raw.keepBuilder.trim())}`);
  const opts: BuilderOptions = {
    driver,
    endpoint,
    driverOpts,
    buildkitdFlags: raw.buildkitdFlags.trim(),
    buildkitdConfig: raw.buildkitdConfig.trim(),
    buildkitdConfigInline: raw.buildkitdConfigInline,
    platforms,
    keep: keepRaw === 'true',
  };
  if (opts.buildkitdConfig && opts.buildkitdConfigInline.trim()) {
    throw new InputError('buildkitd-config-inline', 'give either buildkitd-config (a file) or buildkitd-config-inline, not both');
  }
  if (driver === 'remote' && !endpoint) throw new InputError('endpoint', 'the remote driver needs the BuildKit daemon address, e.g. tcp://buildkitd:1234');
  if (driver === 'docker' || driver === 'remote') {
    const notFor: [string, boolean][] =
      driver === 'docker'
        ? [
            ['endpoint', endpoint !== ''],
            ['driver-opts', driverOpts.length > 0],
            ['buildkitd-flags', opts.buildkitdFlags !== ''],
            ['buildkitd-config', opts.buildkitdConfig !== ''],
            ['buildkitd-config-inline', opts.buildkitdConfigInline.trim() !== ''],
            ['builder-platforms', platforms.length > 0],
          ]
        : [
            ['buildkitd-flags', opts.buildkitdFlags !== ''],
            ['buildkitd-config', opts.buildkitdConfig !== ''],
            ['buildkitd-config-inline', opts.buildkitdConfigInline.trim() !== ''],
          ];
    const bad = notFor.find(([, set]) => set);
    if (bad) {
      throw new InputError(
        bad[0],
        driver === 'docker'
          ? "the docker driver uses the daemon's built-in BuildKit and takes no builder options; use driver: docker-container"
          : 'the remote driver connects to a BuildKit daemon that is already configured; this option cannot apply to it',
      );
    }
  }
  return opts;
}

/** True when an option asks for a builder of our own (so `auto` must not pick the docker driver). */
function wantsOwnBuilder(o: BuilderOptions): boolean {
  return (
    o.endpoint !== '' ||
    o.driverOpts.length > 0 ||
    o.buildkitdFlags !== '' ||
    o.buildkitdConfig !== '' ||
    o.buildkitdConfigInline.trim() !== '' ||
    o.platforms.length > 0
  );
}

/**
 * `auto`: the docker driver when the daemon stores images in containerd (so it can export cache)
 * and no builder option asks for a builder of our own; otherwise a new docker-container builder.
 */
export function resolveDriver(o: BuilderOptions, containerdStore: boolean, cache = true, named = false): { driver: Driver; reason: string } {
  if (o.driver !== 'auto') return { driver: o.driver, reason: `driver: ${o.driver}` };
  if (named) return { driver: 'docker-container', reason: 'auto: name or append asks for a builder of its own' };
  if (wantsOwnBuilder(o)) return { driver: 'docker-container', reason: 'auto: builder options are set, so a builder of its own' };
  if (containerdStore) return { driver: 'docker', reason: 'auto: the daemon uses the containerd image store, so its built-in BuildKit can export cache' };
  if (!cache) return { driver: 'docker', reason: "auto: cache: false, so the daemon's built-in BuildKit (no cache export needed)" };
  return { driver: 'docker-container', reason: 'auto: the daemon has no containerd image store, so the docker driver could not export cache' };
}

export interface CreatePlan {
  name: string;
  driver: Exclude<Driver, 'docker'>;
  endpoint: string;
  driverOpts: string[];
  buildkitdFlags: string;
  /** Path of the BuildKit daemon config file (inline content is written to a file first). */
  buildkitdConfigFile: string;
  platforms: string[];
  /** The buildx that runs the command (older than 0.13 spells --buildkitd-config as --config). */
  buildxVersion: string;
}

/** The exact argv of `docker buildx create` for a plan. */
export function buildxCreateArgv(p: CreatePlan): string[] {
  const a = ['buildx', 'create', '--name', p.name, '--driver', p.driver];
  for (const o of p.driverOpts) a.push('--driver-opt', o);
  if (p.buildkitdFlags) a.push('--buildkitd-flags', p.buildkitdFlags);
  if (p.buildkitdConfigFile) a.push(configFlag(p.buildxVersion), p.buildkitdConfigFile);
  if (p.platforms.length) a.push('--platform', p.platforms.join(','));
  a.push('--bootstrap');
  if (p.endpoint) a.push(p.endpoint);
  return a;
}

function configFlag(buildxVersion: string): string {
  const v = semver.coerce(buildxVersion);
  return v && semver.lt(v, '0.13.0') ? '--config' : '--buildkitd-config';
}

/** A builder name: letters, digits, `-` and `_`, unique per run. */
export function builderName(runId: string, suffix: string): string {
  return `obc-${runId.replace(/[^A-Za-z0-9_-]/g, '')}-${suffix}`;
}

export interface Inspected {
  driver: string;
  buildkitVersion: string;
  /** Union of the nodes' platforms, in order, without buildx's `*` (configured) marks. */
  platforms: string[];
  status: string;
}

/** Reads `docker buildx inspect` output (buildx 0.10 and later spell a few labels differently). */
export function parseInspect(text: string): Inspected {
  const out: Inspected = { driver: '', buildkitVersion: '', platforms: [], status: '' };
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z][A-Za-z ]*?):\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'Driver' && !out.driver) out.driver = value.trim();
    else if ((key === 'BuildKit version' || key === 'Buildkit' || key === 'BuildKit') && !out.buildkitVersion) out.buildkitVersion = value.trim();
    else if (key === 'Status' && !out.status) out.status = value.trim();
    else if (key === 'Platforms') {
      for (const p of value.split(',').map((s) => s.trim().replace(/\*$/, ''))) if (p && !out.platforms.includes(p)) out.platforms.push(p);
    }
  }
  return out;
}

export interface Builder {
  name: string;
  driver: string;
  /** True when this action created it, so post removes it (unless keep-builder). */
  created: boolean;
  buildkitVersion: string;
  platforms: string[];
  /** A docker-container builder on the runner's network (network=host), so it reaches loopback. */
  hostNetwork?: boolean;
}

/** Runs `docker buildx create`; a failure is one line naming the driver input. */
export async function createBuilder(p: CreatePlan, env: Record<string, string>): Promise<void> {
  const res = await run('docker', buildxCreateArgv(p), { env, ignoreReturnCode: true });
  if (res.exitCode !== 0) {
    throw new ToolError(createFailure(p, lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `exit code ${res.exitCode}`));
  }
}

/** The image a docker-container builder starts from: driver-opts `image=`, else buildx's default. */
export const DEFAULT_BUILDKIT_IMAGE = 'moby/buildkit:buildx-stable-1';

export function builderImage(driverOpts: string[]): string {
  return driverOptValue(driverOpts, 'image') || DEFAULT_BUILDKIT_IMAGE;
}

/** The last value of `key=` among driver options (each line may hold several comma-separated pairs). */
export function driverOptValue(opts: string[], key: string): string | undefined {
  let found: string | undefined;
  for (const line of opts) {
    for (const pair of line.split(',')) {
      const m = /^\s*"?([A-Za-z0-9._-]+)=([^"]*)"?\s*$/.exec(pair);
      if (m && m[1] === key) found = m[2].trim();
    }
  }
  return found;
}

/**
 * The driver options of a docker-container builder the action creates: the user's, plus
 * `network=host` when the user chose no network. On the runner's network the builder reaches
 * what the daemon's own BuildKit reaches (the loopback registry for lazy fetching, a registry
 * service of the job on localhost), whatever cache-fetch says.
 */
export function builderDriverOpts(userOpts: string[]): string[] {
  if (driverOptValue(userOpts, 'network') !== undefined) return userOpts;
  return [...userOpts, 'network=host'];
}

const PULL_FAILURE = /pull|manifest|registry|dial tcp|lookup |toomanyrequests|rate limit|denied|unauthorized|no such image|not found|i\/o timeout|tls/i;

/** Pure: the one-line error of a failed `buildx create`; a BuildKit image that cannot be had is named. */
export function createFailure(p: Pick<CreatePlan, 'driver' | 'driverOpts'>, line: string): string {
  if (p.driver === 'docker-container' && PULL_FAILURE.test(line)) {
    const image = builderImage(p.driverOpts);
    return (
      `driver: the docker-container builder could not start its BuildKit image ${image}: ${line}. ` +
      'Choose an image this runner can pull with driver-opts: image=<ref> (for example a copy in your own registry), or give the Docker daemon a registry mirror.'
    );
  }
  return `driver: creating the ${p.driver} builder failed: ${line}`;
}

export async function inspectBuilder(name: string, env: Record<string, string>, input = 'driver'): Promise<Inspected> {
  const res = await run('docker', ['buildx', 'inspect', '--bootstrap', name], { env, silent: true, ignoreReturnCode: true });
  if (res.exitCode !== 0) throw new ToolError(`${input}: builder ${name} is not usable: ${lastMeaningfulLine(res.stderr) || `exit code ${res.exitCode}`}`);
  return parseInspect(res.stdout);
}

/** The builder of the current Docker context (the docker driver's builder is named after it). */
export async function contextBuilderName(env: Record<string, string>): Promise<string> {
  const res = await run('docker', ['context', 'show'], { env, silent: true, ignoreReturnCode: true });
  return (res.exitCode === 0 && res.stdout.trim()) || 'default';
}
