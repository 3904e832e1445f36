// Installing a buildx release as a Docker CLI plugin for this job only: the version is resolved
// (pinned, or the latest release through the GitHub API or a mirror), the release binary is
// downloaded once into the runner's tool cache after its sha256 matched the release's checksums
// file, and linked into the job's private DOCKER_CONFIG/cli-plugins.
import { quoted } from '../clip.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileDigest } from '../files.js';
import * as core from '@actions/core';
import type { HTTPError } from '@actions/tool-cache';
import { InputError } from '../input-error.js';
import { ToolError } from './docker.js';

export const BUILDX_INPUT = 'buildx-version';
const DEFAULT_DOWNLOAD_URL = 'https://github.com/docker/buildx/releases/download/{version}/{asset}';
const GITHUB_LATEST_API = 'https://api.github.com/repos/docker/buildx/releases/latest';
/** Name of the directory in the tool cache (RUNNER_TOOL_CACHE/buildx/<version>/<arch>). */
const TOOL_NAME = 'buildx';

export interface BuildxRequest {
  /** '' (use the installed buildx; install the latest only when none is), 'latest', or 'v1.2.3[-pre]'. */
  version: string;
  /** URL template with {version} and {asset}; '' means GitHub releases. */
  downloadUrl: string;
}

const VERSION_RE = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;

/** Validates `buildx-version` and `buildx-download-url`. */
export function parseBuildxRequest(rawVersion: string, rawUrl: string): BuildxRequest {
  const v = rawVersion.trim();
  let version = '';
  if (v.toLowerCase() === 'latest') version = 'latest';
  else if (v !== '') {
    const m = VERSION_RE.exec(v);
    if (!m) throw new InputError(BUILDX_INPUT, `expected latest or a release version such as v0.19.3, got ${quoted(v)}`);
    version = `v${m[1]}`;
  }
  const url = rawUrl.trim();
  if (url !== '') {
    if (!/^https?:\/\//i.test(url)) throw new InputError('buildx-download-url', `expected an http(s) URL template, got ${quoted(redactUrl(url))}`);
    if (!url.includes('{version}') || !url.includes('{asset}')) {
      throw new InputError('buildx-download-url', 'the template must contain {version} and {asset}, e.g. https://mirror.example/buildx/{version}/{asset}');
    }
  }
  return { version, downloadUrl: url };
}

/** The release's name for this runner's platform, e.g. `linux-amd64`, `windows-arm64`. */
export function releasePlatform(platform: string, arch: string, armVersion?: string): string {
  const os = ({ linux: 'linux', darwin: 'darwin', win32: 'windows', freebsd: 'freebsd' } as Record<string, string>)[platform];
  const cpu = (
    {
      x64: 'amd64',
      arm64: 'arm64',
      arm: armVersion === '6' ? 'arm-v6' : 'arm-v7',
      ppc64: 'ppc64le',
      riscv64: 'riscv64',
      s390x: 's390x',
    } as Record<string, string>
  )[arch];
  const supported =
    os && cpu && (os === 'linux' || ((os === 'darwin' || os === 'windows') && (cpu === 'amd64' || cpu === 'arm64')) || (os === 'freebsd' && cpu === 'amd64'));
  if (!supported) throw new ToolError(`${BUILDX_INPUT}: buildx publishes no release binary for this runner's platform (${platform}/${arch})`);
  return `${os}-${cpu}`;
}

/** Release asset name, e.g. `buildx-v0.19.3.linux-amd64` (Windows: `.exe`). */
export function assetName(version: string, releasePlat: string): string {
  return `buildx-${version}.${releasePlat}${releasePlat.startsWith('windows-') ? '.exe' : ''}`;
}

/** The plugin file name Docker looks for. */
export function pluginFileName(platform: string): string {
  return platform === 'win32' ? 'docker-buildx.exe' : 'docker-buildx';
}

export function expandUrl(template: string, version: string, asset: string): string {
  return template.replaceAll('{version}', encodeURIComponent(version)).replaceAll('{asset}', encodeURIComponent(asset));
}

/** A URL without user:password@ (for messages). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/**
 * `checksums.txt` lines `<sha256> *<name>` (binary mode) or `<sha256>  <name>` -> name => sha256.
 * Other lines are ignored.
 */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m) out.set(m[2].replace(/^.*\//, ''), m[1].toLowerCase());
  }
  return out;
}

/**
 * The release version named by the asset names of a checksums file, e.g. `v0.19.3` from
 * `buildx-v0.19.3.linux-amd64` (used to resolve `latest` through a mirror).
 */
export function versionFromChecksums(sums: Map<string, string>, releasePlat: string): string | undefined {
  const suffix = `.${releasePlat}${releasePlat.startsWith('windows-') ? '.exe' : ''}`;
  for (const name of sums.keys()) {
    if (!name.startsWith('buildx-') || !name.endsWith(suffix)) continue;
    const v = name.slice('buildx-'.length, name.length - suffix.length);
    if (VERSION_RE.test(v) && v.startsWith('v')) return v;
  }
  return undefined;
}

/** The version the tool cache files it under (semver, no `v`). */
export function cacheVersion(version: string): string {
  return version.replace(/^v/, '');
}

export interface InstallEnv {
  platform: string;
  arch: string;
  armVersion?: string;
  /** github-token, sent to the GitHub API only when the run is on github.com. */
  githubToken: string;
  serverUrl: string;
}

interface InstalledBuildx {
  version: string;
  /** The binary in the tool cache. */
  binary: string;
  /** The link in the private cli-plugins directory. */
  plugin: string;
  fromCache: boolean;
  downloadMs: number;
}

type Fetched = { ok: true; text: string } | { ok: false; status: number; statusText: string };

async function fetchText(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { 'User-Agent': 'oneshot-build-action', ...headers }, signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ToolError(`${BUILDX_INPUT}: cannot reach ${redactUrl(url)}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) return { ok: false, status: res.status, statusText: res.statusText };
  return { ok: true, text: await res.text() };
}

/** `latest` -> a concrete version, through the mirror's `latest` directory or the GitHub API. */
export async function resolveLatest(req: BuildxRequest, env: InstallEnv): Promise<string> {
  const plat = releasePlatform(env.platform, env.arch, env.armVersion);
  if (req.downloadUrl) {
    const url = expandUrl(req.downloadUrl, 'latest', 'checksums.txt');
    const r = await fetchText(url);
    if (!r.ok) {
      throw new ToolError(
        `${BUILDX_INPUT}: latest: the mirror answered HTTP ${r.status} for ${redactUrl(url)} (a mirror serves the newest release under the version "latest")`,
      );
    }
    const v = versionFromChecksums(parseChecksums(r.text), plat);
    if (!v) throw new ToolError(`${BUILDX_INPUT}: latest: ${redactUrl(url)} lists no buildx-<version>.${plat} asset`);
    return v;
  }
  const headers: Record<string, string> = { Accept: 'application/vnd.github+json' };
  // A token of a GitHub Enterprise Server is never sent to github.com.
  if (env.githubToken && env.serverUrl.replace(/\/+$/, '') === 'https://github.com') headers.Authorization = `Bearer ${env.githubToken}`;
  const r = await fetchText(GITHUB_LATEST_API, headers);
  if (!r.ok)
    throw new ToolError(
      `${BUILDX_INPUT}: latest: the GitHub releases API answered HTTP ${r.status} ${r.statusText} (set a version, or buildx-download-url for a mirror)`,
    );
  let tag: unknown;
  try {
    tag = (JSON.parse(r.text) as { tag_name?: unknown }).tag_name;
  } catch {
    tag = undefined;
  }
  if (typeof tag !== 'string' || !VERSION_RE.test(tag)) throw new ToolError(`${BUILDX_INPUT}: latest: the GitHub releases API gave no usable tag_name`);
  return tag.startsWith('v') ? tag : `v${tag}`;
}

const SUM_FILE = 'docker-buildx.sha256';

/** @actions/tool-cache, loaded only when buildx is installed (most runs never need it). */
const toolCache = () => import('@actions/tool-cache');

/** The cached binary, when the tool cache has this version and its recorded sha256 still matches. */
async function fromToolCache(version: string, file: string): Promise<string | undefined> {
  const tc = await toolCache();
  const dir = tc.find(TOOL_NAME, cacheVersion(version));
  if (!dir) return undefined;
  const bin = path.join(dir, file);
  try {
    const [want, got] = [(await fs.readFile(path.join(dir, SUM_FILE), 'utf8')).trim(), (await fileDigest(bin)).slice('sha256:'.length)];
    if (want === got) return bin;
    core.warning(`${BUILDX_INPUT}: the tool cache copy of buildx ${version} does not match its recorded sha256; downloading it again.`);
  } catch {
    core.warning(`${BUILDX_INPUT}: the tool cache entry for buildx ${version} is incomplete; downloading it again.`);
  }
  return undefined;
}

/**
 * Makes `version` (concrete, `v1.2.3`) the buildx plugin of the private Docker config `dockerConfig`:
 * from the tool cache when there, otherwise downloaded and verified against the release checksums.
 */
export async function installBuildx(version: string, req: BuildxRequest, dockerConfig: string, runnerTemp: string, env: InstallEnv): Promise<InstalledBuildx> {
  const plat = releasePlatform(env.platform, env.arch, env.armVersion);
  const asset = assetName(version, plat);
  const file = pluginFileName(env.platform);
  const template = req.downloadUrl || DEFAULT_DOWNLOAD_URL;
  const started = Date.now();
  const tc = await toolCache();
  let binary = await fromToolCache(version, file);
  const fromCache = binary !== undefined;
  if (binary) core.info(`buildx ${version} found in the tool cache: ${binary}`);
  else {
    const sumsUrl = expandUrl(template, version, 'checksums.txt');
    const sums = await fetchText(sumsUrl);
    if (!sums.ok) {
      throw new ToolError(
        sums.status === 404
          ? `${BUILDX_INPUT}: release ${version} not found: ${redactUrl(sumsUrl)} answered HTTP 404`
          : `${BUILDX_INPUT}: cannot fetch the checksums of ${version}: ${redactUrl(sumsUrl)} answered HTTP ${sums.status} ${sums.statusText}`,
      );
    }
    const want = parseChecksums(sums.text).get(asset);
    if (!want) throw new ToolError(`${BUILDX_INPUT}: release ${version} has no ${asset} in ${redactUrl(sumsUrl)} (refusing an unverified binary)`);
    const url = expandUrl(template, version, asset);
    const stage = path.join(runnerTemp, `obc-buildx-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(stage, { recursive: true });
    try {
      const downloaded = path.join(stage, file);
      core.info(`Downloading ${redactUrl(url)}`);
      try {
        await tc.downloadTool(url, downloaded);
      } catch (err) {
        const status = (err as HTTPError).httpStatusCode;
        throw new ToolError(
          status === 404
            ? `${BUILDX_INPUT}: release asset ${asset} not found: ${redactUrl(url)} answered HTTP 404`
            : `${BUILDX_INPUT}: cannot download ${redactUrl(url)}: ${status ? `HTTP ${status}` : (err as Error).message}`,
        );
      }
      const got = (await fileDigest(downloaded)).slice('sha256:'.length);
      if (got !== want) {
        throw new ToolError(
          `${BUILDX_INPUT}: checksum mismatch for ${asset} from ${redactUrl(url)}: expected sha256 ${want}, got ${got}; refusing to install it`,
        );
      }
      core.info(`sha256 ${got} matches ${path.basename(sumsUrl)}.`);
      await fs.chmod(downloaded, 0o755);
      await fs.writeFile(path.join(stage, SUM_FILE), `${got}\n`);
      const dir = await tc.cacheDir(stage, TOOL_NAME, cacheVersion(version));
      binary = path.join(dir, file);
      core.info(`Cached in the tool cache: ${dir}`);
    } finally {
      await fs.rm(stage, { recursive: true, force: true });
    }
  }
  const pluginDir = path.join(dockerConfig, 'cli-plugins');
  await fs.mkdir(pluginDir, { recursive: true });
  const plugin = path.join(pluginDir, file);
  await fs.rm(plugin, { force: true });
  await fs.symlink(binary, plugin);
  return { version, binary, plugin, fromCache, downloadMs: Date.now() - started };
}
