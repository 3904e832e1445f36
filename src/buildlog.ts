// Condensed buildx progress for the log. BuildKit's plain progress prints, for every step, a header
// (`#5 [build 2/3] RUN make`), the step's own output (`#5 0.165 text`), bookkeeping (transfers,
// resolves, layer extraction and export, pushes) and a status (`#5 CACHED`, `#5 DONE 0.2s`,
// `#5 ERROR: ...`). The condensed view keeps headers, the steps' own output, statuses, errors and
// everything buildx prints outside a step (the failure excerpt, warnings); it drops the bookkeeping
// and BuildKit's internal steps (`[internal] load ...`, `[auth] ...`) unless one of them fails.
// With debug logging on, the action shows the full progress instead (see exec.ts).

/** Decides, line by line, what reaches the log. */
export interface LogView {
  /** The lines to print for this input line (none, the line, or a held header and the line). */
  push(line: string): string[];
  /** Lines to print once the program has ended. */
  end(): string[];
}

const STEP_RE = /^#(\d+) (.*)$/;
const STATUS_RE = /^(CACHED|CANCELED|DONE\b.*|ERROR\b.*)$/;
const OUTPUT_RE = /^\d+\.\d+ /;
const HIDDEN_HEADER_RE = /^\[(internal|auth)\] /;

export function condensedBuildxProgress(): LogView {
  const headers = new Map<string, string>();
  const hidden = new Set<string>();
  const headerShown = new Set<string>();
  let lastBlank = true;
  let dropped = 0;

  const emit = (lines: string[]): string[] => {
    const out: string[] = [];
    for (const l of lines) {
      const blank = l.trim() === '';
      if (blank && lastBlank) continue;
      lastBlank = blank;
      out.push(l);
    }
    return out;
  };
  const drop = (): string[] => {
    dropped++;
    return [];
  };

  return {
    push(line: string): string[] {
      const m = STEP_RE.exec(line);
      if (!m) return emit([line]);
      const [, id, text] = m;
      const header = headers.get(id);
      if (header === undefined) {
        headers.set(id, text);
        if (HIDDEN_HEADER_RE.test(text)) {
          hidden.add(id);
          return drop();
        }
        headerShown.add(id);
        return emit([line]);
      }
      if (hidden.has(id)) {
        // An internal step that fails is shown, header first.
        if (!text.startsWith('ERROR')) return drop();
        const lines = headerShown.has(id) ? [line] : [`#${id} ${header}`, line];
        headerShown.add(id);
        return emit(lines);
      }
      if (text === header || STATUS_RE.test(text) || OUTPUT_RE.test(text)) return emit([line]);
      return drop();
    },
    end(): string[] {
      return dropped
        ? [
            `(${dropped} ${dropped === 1 ? 'line' : 'lines'} of BuildKit transfer and export progress hidden; enable debug logging to see the full progress and command.)`,
          ]
        : [];
    },
  };
}
