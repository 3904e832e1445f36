// The files the build inputs name, checked before any Docker work: the `context` directory exists,
// the Dockerfile (`file`, or <context>/Dockerfile) exists inside the workspace, and the `target`
// stage is in it. The stage planner (stagesOf) is pure; checkBuildFiles reads the disk.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError } from './input-error.js';
import { quoted } from './clip.js';

/** A context buildx fetches itself (a Git or HTTP URL, or stdin): nothing local to check. */
export function isRemoteContext(context: string): boolean {
  return context === '-' || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(context) || /^git@/.test(context);
}

/** Dockerfiles read for the target check: a larger one is not checked for stages. */
const MAX_DOCKERFILE_BYTES = 4 * 1024 * 1024;

/**
 * The stage names a Dockerfile defines (`FROM … AS name`, lowercased), or undefined when they
 * cannot be known without BuildKit: a `# syntax=` frontend other than docker/dockerfile, or a
 * stage name that an ARG expands (`AS $NAME`). Continuation lines (the escape character at the
 * end, `\` or the one `# escape=` sets) are joined, comment lines inside them skipped. Text that
 * only looks like a FROM line (inside a heredoc) may add a name: that makes the check more lenient,
 * never stricter.
 */
export function stagesOf(dockerfile: string, buildArgs: { key: string }[] = []): string[] | undefined {
  if (buildArgs.some((a) => a.key === 'BUILDKIT_SYNTAX')) return undefined;
  const lines = dockerfile.split(/\r?\n/);
  let escape = '\\';
  let i = 0;
  // Parser directives: `# key=value` lines at the very top.
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([A-Za-z]+)\s*=\s*(\S*)\s*$/.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (key === 'escape' && (m[2] === '`' || m[2] === '\\')) escape = m[2];
    if (key === 'syntax' && !/^(docker\.io\/)?docker\/dockerfile(-upstream)?(:[^@]*)?(@sha256:[0-9a-f]+)?$/.test(m[2])) return undefined;
  }
  const names: string[] = [];
  let logical = '';
  let unknown = false;
  const finish = () => {
    const words = logical.trim().split(/\s+/);
    logical = '';
    if (!/^from$/i.test(words[0] ?? '')) return;
    const rest = words.slice(1).filter((w) => !w.startsWith('--'));
    if (rest.length >= 3 && /^as$/i.test(rest[1])) {
      if (rest[2].includes('$')) unknown = true;
      else names.push(rest[2].toLowerCase());
    }
  };
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (logical !== '' && /^\s*(#.*)?$/.test(line)) continue;
    if (logical === '' && /^\s*#/.test(line)) continue;
    const trimmed = line.replace(/\s+$/, '');
    if (trimmed.endsWith(escape)) {
      logical += trimmed.slice(0, -1) + ' ';
      continue;
    }
    logical += line;
    finish();
  }
  if (logical !== '') finish();
  // A FROM line on its own is read as such too, whatever the joining above made of it.
  for (const line of lines) {
    const m = /^\s*from\s+(?:--\S+\s+)*\S+\s+as\s+(\S+)\s*$/i.exec(line);
    if (m && !m[1].includes('$') && !names.includes(m[1].toLowerCase())) names.push(m[1].toLowerCase());
  }
  return unknown ? undefined : names;
}

/**
 * The default context is the workspace, where docker/build-push-action builds the repository's Git
 * context: a workspace with neither a checkout nor a Dockerfile means the checkout step is missing.
 */
export const NO_CHECKOUT =
  'the workspace has no checkout (no .git) and no Dockerfile: this action builds the workspace, not the Git context docker/build-push-action defaults to; add actions/checkout before this step, or set context to a Git URL (https://github.com/OWNER/REPO.git#REF)';

/** fs.stat, undefined when the path does not exist; another failure is an error naming the input. */
async function statOf(p: string, input: string, shown: string) {
  try {
    return await fs.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new InputError(input, `${shown} cannot be read (${code ?? (err as Error).message})`);
  }
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

interface BuildFiles {
  context: string;
  /** The `file` input ('' for the default <context>/Dockerfile). */
  file: string;
  target: string;
  buildArgs: { key: string }[];
}

/**
 * Checks the context directory, the Dockerfile and the target stage; relative paths are resolved
 * against `cwd` (the step's working directory, as buildx resolves them). The Dockerfile must be in
 * the workspace (symbolic links resolved): a file from elsewhere on the runner is refused. Throws an
 * InputError naming `context`, `file` or `target`. A remote context is not checked.
 */
export async function checkBuildFiles(b: BuildFiles, workspace: string, cwd: string): Promise<void> {
  if (isRemoteContext(b.context)) return;
  const ctxStat = await statOf(path.resolve(cwd, b.context), 'context', quoted(b.context));
  if (!ctxStat && (b.context === 'git' || b.context === 'workflow')) {
    throw new InputError(
      'context',
      `${quoted(b.context)} is docker/metadata-action's context value; here context is the build context: write metadata-context: ${b.context}`,
    );
  }
  if (!ctxStat) throw new InputError('context', `directory ${quoted(b.context)} does not exist (relative to ${quoted(cwd)})`);
  if (!ctxStat.isDirectory()) throw new InputError('context', `${quoted(b.context)} is not a directory`);

  const dockerfile = b.file || path.join(b.context, 'Dockerfile');
  const shown = quoted(dockerfile);
  const abs = path.resolve(cwd, dockerfile);
  const st = await statOf(abs, 'file', shown);
  if (!st && !b.file && path.resolve(cwd, b.context) === path.resolve(workspace) && !(await statOf(path.join(workspace, '.git'), 'context', '".git"'))) {
    throw new InputError('context', NO_CHECKOUT);
  }
  if (!st)
    throw new InputError(
      'file',
      b.file ? `${shown} does not exist` : `no Dockerfile in the context: ${shown} does not exist (set file to the Dockerfile's path)`,
    );
  if (!st.isFile()) throw new InputError('file', `${shown} is not a file`);
  const real = await fs.realpath(abs);
  const realWorkspace = await fs.realpath(workspace).catch(() => path.resolve(workspace));
  if (!inside(realWorkspace, real)) {
    throw new InputError(
      'file',
      `${shown} is outside the workspace ${quoted(realWorkspace)}; the Dockerfile must be a file of the workspace (copy it there first)`,
    );
  }

  if (b.target === '' || st.size > MAX_DOCKERFILE_BYTES) return;
  const stages = stagesOf(await fs.readFile(real, 'utf8'), b.buildArgs);
  if (stages === undefined || stages.includes(b.target.toLowerCase())) return;
  const known = stages.length ? `its stages: ${stages.join(', ')}` : 'it names no stage (FROM … AS name)';
  throw new InputError('target', `stage ${quoted(b.target)} is not in ${shown} (${known})`);
}
