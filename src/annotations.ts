// Build failures where the user looks: the one line that says what went wrong (buildx's final
// `ERROR: ...` line, not a stack trace) and, when buildx names a Dockerfile line, an error
// annotation on that line of that file. Parsing is pure; `annotateFailure` is the only side effect.
import * as path from 'node:path';
import * as core from '@actions/core';
import { lastMeaningfulLine } from './exec.js';

export interface BuildxFailure {
  /** The line to show as the step's failure: buildx's last `ERROR: ...` line. */
  message: string;
  /** The file name buildx printed above its source excerpt (`Dockerfile:3` -> `Dockerfile`). */
  file?: string;
  startLine?: number;
  endLine?: number;
}

const LOCATION_RE = /^([^\s#:][^\s:]*):(\d+)$/;
const EXCERPT_RULE = /^-{10,}$/;
const MARKED_LINE = /^\s*(\d+)\s*\|\s*>>>/;

/**
 * Reads buildx's output (plain progress, stdout and stderr together) after a failed build.
 * buildx ends a failure with a source excerpt and the error:
 *
 *     Dockerfile:3
 *     --------------------
 *        2 |     RUN echo fine
 *        3 | >>> COPPY nothing /here
 *     --------------------
 *     ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY
 *
 * The lines marked `>>>` give the range (a RUN continued over several lines marks each of them).
 */
export function parseBuildxFailure(output: string): BuildxFailure {
  const lines = output.split(/\r?\n/).map((l) => l.replace(/\s+$/, ''));
  const errors = lines.filter((l) => l.startsWith('ERROR:'));
  const message = errors.length ? errors[errors.length - 1].trim() : lastMeaningfulLine(output);
  const out: BuildxFailure = { message };
  // The last excerpt before the final error names the failing instruction.
  for (let i = lines.length - 2; i >= 0; i--) {
    const m = LOCATION_RE.exec(lines[i]);
    if (!m || !EXCERPT_RULE.test(lines[i + 1] ?? '')) continue;
    out.file = m[1];
    const marked: number[] = [];
    for (let j = i + 2; j < lines.length && !EXCERPT_RULE.test(lines[j]); j++) {
      const mm = MARKED_LINE.exec(lines[j]);
      if (mm) marked.push(Number(mm[1]));
    }
    const fromError = /\bon line (\d+)\b/.exec(message);
    out.startLine = marked.length ? Math.min(...marked) : fromError ? Number(fromError[1]) : Number(m[2]);
    out.endLine = marked.length ? Math.max(...marked) : out.startLine;
    break;
  }
  if (out.file === undefined) {
    const fromError = /\bdockerfile parse error on line (\d+)\b/i.exec(message);
    if (fromError) out.startLine = out.endLine = Number(fromError[1]);
  }
  return out;
}

export interface AnnotationTarget {
  /** Workspace-relative, '/'-separated. */
  file: string;
  startLine: number;
  endLine: number;
}

/**
 * Maps buildx's file name onto the Dockerfile this run built (buildx prints only its base name),
 * relative to the workspace. Undefined when the location is unknown, names another file, or the
 * Dockerfile lies outside the workspace (GitHub could not show it).
 */
export function annotationTarget(f: BuildxFailure, dockerfile: string, workspace: string): AnnotationTarget | undefined {
  if (f.startLine === undefined) return undefined;
  if (f.file !== undefined && f.file !== path.basename(dockerfile) && f.file !== dockerfile) return undefined;
  const rel = path.relative(path.resolve(workspace), path.resolve(workspace, dockerfile));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return { file: rel.split(path.sep).join('/'), startLine: f.startLine, endLine: f.endLine ?? f.startLine };
}

/**
 * Fails the step with buildx's error line; when the error has a Dockerfile location, the one error
 * annotation carries it (file and lines), so the message shows on the Dockerfile in the run's view.
 */
export function annotateFailure(message: string, target: AnnotationTarget | undefined): void {
  process.exitCode = core.ExitCode.Failure;
  if (!target) {
    core.error(message);
    return;
  }
  core.error(message, {
    title: `Docker build failed at ${target.file}:${target.startLine}`,
    file: target.file,
    startLine: target.startLine,
    endLine: target.endLine,
  });
}
