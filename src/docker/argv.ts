// Pure planning of the `docker buildx build` command line. Secrets appear only as ids and file
// paths or environment variable names, never as values.
export interface BuildPlan {
  builder: string;
  context: string;
  file: string;
  target: string;
  platforms: string[];
  buildArgs: { key: string; value: string }[];
  /** `--secret` specs: `id=x,src=/path` or `id=x,env=NAME`. */
  secretSpecs: string[];
  tags: string[];
  labels: string[];
  annotations: string[];
  /** A full `--cache-from` spec (`type=local,src=...` or `type=registry,ref=...`). */
  cacheFrom?: string;
  /** A full `--cache-to` spec. */
  cacheTo?: string;
  /** Where the cache export lands on this runner (an OCI layout), for the leak guard and the save. */
  cacheExportDir?: string;
  push: boolean;
  /** Keep the image in the local image store too (needed when not pushing, for a scan). */
  load: boolean;
  provenance: string;
  sbom: string;
  metadataFile: string;
  /** Extra `--output` specs (the leak guard exports an OCI layout to scan before pushing; the `outputs` input). */
  outputs?: string[];
  /** build-push-action's options, passed as given (see BuildFlags). */
  flags?: BuildFlags;
  /** The `cache-from` / `cache-to` inputs, beside the action's own cacheFrom / cacheTo. */
  extraCacheFrom?: string[];
  extraCacheTo?: string[];
  /** distribute: platform: the `--output` that pushes by digest only (no tag); replaces push and tags. */
  pushByDigest?: string;
}

/** Build options that go to buildx as they are (checked in inputs-build.ts). */
export interface BuildFlags {
  pull?: boolean;
  noCache?: boolean;
  noCacheFilters?: string[];
  buildContexts?: string[];
  ssh?: string[];
  network?: string;
  addHosts?: string[];
  shmSize?: string;
  ulimits?: string[];
  allow?: string[];
  cgroupParent?: string;
  /** `--call` method (check, outline, targets, with options); empty for a build. */
  call?: string;
}

function flagArgv(f: BuildFlags): string[] {
  const a: string[] = [];
  if (f.call) a.push('--call', f.call);
  if (f.pull) a.push('--pull');
  if (f.noCache) a.push('--no-cache');
  for (const s of f.noCacheFilters ?? []) a.push('--no-cache-filter', s);
  for (const c of f.buildContexts ?? []) a.push('--build-context', c);
  for (const s of f.ssh ?? []) a.push('--ssh', s);
  if (f.network) a.push('--network', f.network);
  for (const h of f.addHosts ?? []) a.push('--add-host', h);
  if (f.shmSize) a.push('--shm-size', f.shmSize);
  for (const u of f.ulimits ?? []) a.push('--ulimit', u);
  for (const e of f.allow ?? []) a.push('--allow', e);
  if (f.cgroupParent) a.push('--cgroup-parent', f.cgroupParent);
  return a;
}

export function buildxArgv(p: BuildPlan): string[] {
  const a: string[] = ['buildx', 'build', '--builder', p.builder, '--file', p.file, '--progress', 'plain'];
  if (p.target) a.push('--target', p.target);
  if (p.platforms.length) a.push('--platform', p.platforms.join(','));
  for (const b of p.buildArgs) a.push('--build-arg', `${b.key}=${b.value}`);
  for (const s of p.secretSpecs) a.push('--secret', s);
  for (const t of p.tags) a.push('--tag', t);
  for (const l of p.labels) a.push('--label', l);
  for (const an of p.annotations) a.push('--annotation', an);
  if (p.cacheFrom) a.push('--cache-from', p.cacheFrom);
  for (const c of p.extraCacheFrom ?? []) a.push('--cache-from', c);
  if (p.cacheTo) a.push('--cache-to', p.cacheTo);
  for (const c of p.extraCacheTo ?? []) a.push('--cache-to', c);
  a.push(...flagArgv(p.flags ?? {}));
  if (!p.flags?.call) {
    a.push(`--provenance=${p.provenance}`);
    if (p.sbom) a.push(`--sbom=${p.sbom}`);
  }
  if (p.push) a.push('--push');
  if (p.load) a.push('--load');
  for (const o of p.outputs ?? []) a.push('--output', o);
  a.push('--metadata-file', p.metadataFile);
  a.push(p.context);
  return a;
}

/** Quotes an argv for display. */
export function displayCommand(cmd: string, argv: string[]): string {
  return [cmd, ...argv].map((s) => (/^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)).join(' ');
}
