// `registry-auth` in docker/login-action's YAML format, parsed with a real YAML parser (js-yaml). A
// module of its own, so that post, which needs login.ts's credential helpers, never loads the parser.
import { load as yamlLoad, FAILSAFE_SCHEMA } from 'js-yaml';
import { quoted } from '../clip.js';
import { InputError } from '../input-error.js';
import { HOST_RE, isEcrRegistry, normalizeRegistry, parseEcr, parseScope, registryLabel } from './login.js';
import type { RegistryCredential } from './login.js';

const ENTRY_KEYS = ['registry', 'username', 'password', 'ecr', 'scope'];

/** A YAML scalar as text: strings as written, numbers and booleans as YAML printed them. */
function scalar(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * `registry-auth`, in docker/login-action's format: a YAML list of maps with `registry` (empty or
 * absent: Docker Hub), `username`, `password`, and optionally `ecr` and `scope`:
 *
 *   - registry: ghcr.io
 *     username: octocat
 *     password: ${{ secrets.GHCR_TOKEN }}
 *   - username: "${{ vars.DOCKERHUB_USERNAME }}"   # Docker Hub
 *     password: '${{ secrets.DOCKERHUB_TOKEN }}'
 *
 * It is parsed as YAML (quotes, comments, flow style `[{...}]` all work). No message ever shows a
 * password, nor a YAML snippet (which could hold one): a syntax error names only line and column.
 */
export function parseRegistryAuth(raw: string): RegistryCredential[] {
  const name = 'registry-auth';
  if (raw.trim() === '') return [];
  let doc: unknown;
  try {
    doc = yamlLoad(raw, { schema: FAILSAFE_SCHEMA });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line?: number; column?: number } };
    const where = e.mark?.line !== undefined ? ` at line ${e.mark.line + 1}, column ${(e.mark.column ?? 0) + 1}` : '';
    throw new InputError(name, `not valid YAML${where}: ${e.reason ?? 'syntax error'} (the text is not shown: it may hold a password)`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc))
    throw new InputError(name, 'expected a YAML list of entries, each "- registry: HOST" with username and password (as docker/login-action takes it)');
  const seen = new Set<string>();
  return doc.map((entry, idx) => {
    const n = idx + 1;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw new InputError(name, `entry ${n}: expected a map with registry, username and password`);
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!ENTRY_KEYS.includes(k)) throw new InputError(name, `entry ${n}: unknown key ${quoted(k)} (expected ${ENTRY_KEYS.join(', ')})`);
      if (e[k] !== null && scalar(e[k]) === undefined) throw new InputError(name, `entry ${n}: ${quoted(k)} must be a single value`);
    }
    const given = (scalar(e.registry) ?? '').trim();
    const registry = normalizeRegistry(given);
    if (!HOST_RE.test(registry)) throw new InputError(name, `entry ${n}: invalid registry ${quoted(given)}`);
    const username = (scalar(e.username) ?? '').trim();
    const password = scalar(e.password) ?? '';
    const ecr = parseEcr(scalar(e.ecr) ?? '', `${name}: entry ${n}: ecr`);
    const scope = parseScope(scalar(e.scope) ?? '', `${name}: entry ${n}: scope`);
    if (ecr === 'false' || (ecr === 'auto' && !isEcrRegistry(registry))) {
      if (!username) throw new InputError(name, `entry ${n} (${registryLabel(registry)}): no username`);
      if (!password) throw new InputError(name, `entry ${n} (${registryLabel(registry)}): no password (is the secret set?)`);
    }
    if (/\s/.test(username)) throw new InputError(name, `entry ${n} (${registryLabel(registry)}): the username contains a space`);
    const key = `${registry}\u0000${scope}`;
    if (seen.has(key)) throw new InputError(name, `${registryLabel(registry)}${scope ? ` (scope ${scope})` : ''} is listed twice`);
    seen.add(key);
    return { registry, username, password, ...(ecr !== 'auto' ? { ecr } : {}), ...(scope ? { scope } : {}) };
  });
}
