// docker/setup-buildx-action's `name`, `append` and `keep-state`, and build-push-action's `builder`
// (an existing builder, used as it is): parsing (pure) and the exact `buildx create --append` argv.
import { quoted } from '../clip.js';
import { InputError } from '../input-error.js';
import { splitList } from '../inputs-lists.js';

interface AppendNode {
  name: string;
  endpoint: string;
  driverOpts: string[];
  buildkitdFlags: string;
  platforms: string[];
}

export interface BuilderExtra {
  /** `builder`: an existing builder by name; the action neither creates nor removes it. */
  existing: string;
  /** `name`: the name of the builder the action creates (default: one of its own per run). */
  name: string;
  /** `append`: more nodes for the builder the action creates. */
  append: AppendNode[];
  /** `keep-state`: when post removes the builder, keep its BuildKit state (buildx rm --keep-state). */
  keepState: boolean;
}

const BUILDER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const APPEND_KEYS = ['name', 'endpoint', 'driver-opts', 'buildkitd-flags', 'platforms'];

function builderNameOf(input: string, raw: string): string {
  const n = raw.trim();
  if (n !== '' && !BUILDER_NAME_RE.test(n)) throw new InputError(input, `${quoted(n)} is not a builder name (letters, digits, "-", "_", ".")`);
  return n;
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0] ? t.slice(1, -1) : t;
}

/**
 * `append`, setup-buildx-action's YAML list of nodes:
 *   - name: node2
 *     endpoint: tcp://arm64-host:1234
 *     platforms: linux/arm64
 *     driver-opts:
 *       - image=moby/buildkit:v0.16.0
 *     buildkitd-flags: --debug
 * Only these keys; a scalar driver-opts holds one option, a nested list several.
 */
export function parseAppend(raw: string): AppendNode[] {
  const nodes: Record<string, string | string[]>[] = [];
  let listKey: string | undefined;
  for (const rawLine of raw.split(/\r?\n/)) {
    if (rawLine.trim() === '' || rawLine.trim().startsWith('#')) continue;
    const indent = rawLine.length - rawLine.trimStart().length;
    let line = rawLine.trim();
    if (listKey && indent > 0 && line.startsWith('- ') && nodes.length && !/^-\s+[a-z-]+:/.test(line)) {
      (nodes[nodes.length - 1][listKey] as string[]).push(unquote(line.slice(2)));
      continue;
    }
    if (line.startsWith('- ')) {
      nodes.push({});
      line = line.slice(2).trim();
    } else if (!nodes.length) throw new InputError('append', `expected a list of nodes, each starting with "- name: ...", got ${quoted(line)}`);
    const m = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (!m || !APPEND_KEYS.includes(m[1])) throw new InputError('append', `expected one of ${APPEND_KEYS.join(', ')} as key, got ${quoted(line)}`);
    const node = nodes[nodes.length - 1];
    if (m[2] === '' && m[1] === 'driver-opts') {
      node[m[1]] = [];
      listKey = m[1];
    } else {
      node[m[1]] = unquote(m[2]);
      listKey = undefined;
    }
  }
  return nodes.map((n, i) => {
    const str = (k: string) => (typeof n[k] === 'string' ? (n[k] as string) : '');
    const name = str('name') || `node${i + 1}`;
    if (!BUILDER_NAME_RE.test(name)) throw new InputError('append', `${quoted(name)} is not a node name`);
    const platforms = splitList(str('platforms'));
    for (const p of platforms) if (!PLATFORM_RE.test(p)) throw new InputError('append', `node ${quoted(name)}: expected os/arch[/variant], got ${quoted(p)}`);
    const opts = Array.isArray(n['driver-opts']) ? (n['driver-opts'] as string[]) : str('driver-opts') ? [str('driver-opts')] : [];
    for (const o of opts)
      if (!/^[A-Za-z0-9._-]+=/.test(o)) throw new InputError('append', `node ${quoted(name)}: driver-opts expects key=value, got ${quoted(o)}`);
    return { name, endpoint: str('endpoint'), driverOpts: opts, buildkitdFlags: str('buildkitd-flags'), platforms };
  });
}

export function parseBuilderExtra(raw: { builder?: string; name?: string; append?: string; keepState?: string }): BuilderExtra {
  const ks = (raw.keepState ?? '').trim().toLowerCase();
  if (!['', 'true', 'false'].includes(ks)) throw new InputError('keep-state', `expected true or false, got ${quoted((raw.keepState ?? '').trim())}`);
  const out: BuilderExtra = {
    existing: builderNameOf('builder', raw.builder ?? ''),
    name: builderNameOf('name', raw.name ?? ''),
    append: parseAppend(raw.append ?? ''),
    keepState: ks === 'true',
  };
  if (out.existing) {
    const clash = out.name ? 'name' : out.append.length ? 'append' : out.keepState ? 'keep-state' : undefined;
    if (clash) throw new InputError(clash, `applies to a builder the action creates, but builder: ${out.existing} names an existing one`);
  }
  return out;
}

/** The exact argv that adds one node to builder `builder`. */
export function appendNodeArgv(builder: string, n: AppendNode): string[] {
  const a = ['buildx', 'create', '--name', builder, '--append', '--node', n.name];
  for (const o of n.driverOpts) a.push('--driver-opt', o);
  if (n.buildkitdFlags) a.push('--buildkitd-flags', n.buildkitdFlags);
  if (n.platforms.length) a.push('--platform', n.platforms.join(','));
  if (n.endpoint) a.push(n.endpoint);
  return a;
}
