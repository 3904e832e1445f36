// The shape of src/ that keeps it easy to change: no import cycle, no function over 80 lines, and
// every runtime dependency in package.json is imported by the code.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve('src');
const MAX_FUNCTION_LINES = 80;
// What is still to be split (shrinks to nothing): a new cycle or long function fails at once.
const KNOWN_CYCLES: string[] = [];
const KNOWN_LONG: string[] = [];
const KNOWN_UNUSED_DEPS: string[] = [];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const files = sourceFiles(SRC);
const parsed = new Map(files.map((f) => [f, ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true)]));

/** Every module specifier a file imports or re-exports, static or dynamic, type-only or not. */
function specifiers(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The src/ files a file imports (relative specifiers, `.js` written for `.ts`). */
function localImports(file: string): string[] {
  return specifiers(parsed.get(file)!)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')))
    .filter((p) => parsed.has(p));
}

/** Each cycle once, as the list of files from its smallest member round to it again. */
function importCycles(): string[][] {
  const graph = new Map(files.map((f) => [f, localImports(f)]));
  const cycles = new Map<string, string[]>();
  const walk = (node: string, path: string[]): void => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const cycle = path.slice(at).map((p) => relative(SRC, p));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(' > '), rotated);
      } else if (path.length < 12) walk(next, [...path, next]);
    }
  };
  for (const f of files) walk(f, [f]);
  return [...cycles.values()];
}

function longFunctions(): string[] {
  const out: string[] = [];
  for (const [file, sf] of parsed) {
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = last - first + 1;
        if (lines > MAX_FUNCTION_LINES) {
          const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '<anonymous>';
          out.push(`${relative(SRC, file)}:${first + 1} ${name} (${lines} lines)`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

describe('the shape of src/', () => {
  it('finds the files it checks', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(parsed.has(join(SRC, 'main.ts'))).toBe(true);
  });

  it('has no import cycle (type-only imports included)', () => {
    expect(
      importCycles()
        .map((c) => c.join(' > '))
        .filter((c) => !KNOWN_CYCLES.includes(c)),
    ).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(longFunctions().filter((f) => !KNOWN_LONG.includes(f.split(' ')[1]))).toEqual([]);
  });

  it('imports every runtime dependency of package.json, and nothing that is not one', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set(
      [...parsed.values()]
        .flatMap(specifiers)
        .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
        .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0])),
    );
    expect(Object.keys(pkg.dependencies).filter((d) => !imported.has(d) && !KNOWN_UNUSED_DEPS.includes(d))).toEqual([]);
    expect([...imported].filter((d) => !(d in pkg.dependencies)).sort()).toEqual([]);
  });
});
