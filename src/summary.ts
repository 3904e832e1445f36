// The job summary: what the run built and pushed, the cache, the timings and the toolchain, from the
// typed Report (main) and the save outcome (post). Rendering is pure Markdown; writing never fails
// the step. Secrets appear by id only: the Report never holds a value.
import * as core from '@actions/core';
import type { Report } from './report.js';
import type { SaveOutcome } from './cache/store.js';
import { formatBytes } from './format.js';

// Re-exported for the callers that format a summary's numbers.

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** A table cell: one line, pipes escaped. */
function cell(s: string): string {
  return s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function code(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}

function table(rows: [string, string][]): string[] {
  return ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)];
}

export function headline(r: Report): string {
  if (r.error) return '### ❌ Docker build failed';
  if (r.dryRun) return '### 🧪 Docker build: dry run (nothing built)';
  if (r.distribute === 'merge' && r.pushed)
    return `### ✅ Docker image index of ${r.platforms?.length ?? 0} platforms pushed as ${r.tags.length} ${r.tags.length === 1 ? 'tag' : 'tags'}`;
  if (r.distribute === 'platform' && r.pushed) return `### ✅ Docker build pushed ${r.platforms?.[0] ?? 'the platform'} by digest (the merge tags it)`;
  if (r.pushed) return `### ✅ Docker build pushed ${r.tags.length} ${r.tags.length === 1 ? 'tag' : 'tags'}`;
  return '### ☑️ Docker build succeeded (not pushed)';
}

function pushVerdict(r: Report): string {
  if (r.pushed) return 'yes';
  if (!r.pushPlanned) return 'no';
  if (r.dryRun) return 'would push';
  return r.error ? 'no: the step failed first' : 'no';
}

function cacheLine(r: Report): string | undefined {
  const c = r.cache;
  if (!c) return undefined;
  if (c.hit === 'disabled') return 'disabled (cache: false)';
  const what =
    c.hit === 'miss'
      ? 'miss: nothing restored'
      : `${c.hit} hit: ${formatBytes(c.bytesRestored)} restored from ${c.entriesRestored} ${c.entriesRestored === 1 ? 'entry' : 'entries'}`;
  const save = c.saveReason ? `; not saved (${c.saveReason})` : c.unchanged ? '; nothing new to save: the cache already held every layer of this build' : '';
  return `${what}, ${formatMs(c.restoreMs)} in the cache service${save}`;
}

/** The test-run line: passed, or failed and so nothing pushed (the layer cache is still saved). */
export function testLine(t: { exitCode: number; ms: number }): string {
  if (t.exitCode === 0) return `passed in ${formatMs(t.ms)}`;
  return `failed with exit code ${t.exitCode} after ${formatMs(t.ms)}: nothing pushed or exported`;
}

/** The main step's section of the job summary. */
export function renderMainSummary(r: Report): string {
  const out: string[] = [headline(r), ''];
  if (r.error) {
    const where = r.errorLocation ? ` at ${code(`${r.errorLocation.file}:${r.errorLocation.startLine}`)}` : '';
    out.push(`The step failed${where}:`, '', '```text', r.error.replace(/```/g, "'''"), '```', '');
  }
  if (r.tags.length && r.distribute === 'platform') {
    out.push(
      r.pushed ? 'No tag moved: the merge job pushes the index under these tags:' : 'Tags of the index (the merge job):',
      '',
      ...r.tags.map((t) => `- ${code(t)}`),
      '',
    );
  } else if (r.tags.length) {
    if (r.pushed) {
      out.push('Pushed:', '', ...r.tags.map((t) => `- ${code(r.digest ? `${t}@${r.digest}` : t)}`), '');
    } else {
      out.push(r.error ? 'Tags it would have had:' : 'Tags (not pushed):', '', ...r.tags.map((t) => `- ${code(t)}`), '');
    }
  }
  const rows: [string, string][] = [];
  if (r.pushReason) rows.push(['Push', `${pushVerdict(r)} (${r.pushReason})`]);
  if (r.platforms?.length) rows.push([r.distribute === 'merge' ? 'Platforms merged' : 'Platforms', r.platforms.join(', ')]);
  if (r.digest) rows.push([r.distribute === 'merge' ? 'Index digest' : r.distribute === 'platform' ? 'Digest (pushed by digest)' : 'Digest', code(r.digest)]);
  for (const [p, dg] of Object.entries(r.platformDigests ?? {})) rows.push([`Digest of ${p}`, code(dg)]);
  if (r.handoverKey) rows.push(['Handed to the merge', `Actions cache key ${code(r.handoverKey)}`]);
  if (r.emulated?.arches.length) {
    const reg = r.emulated.registered.length ? `; registered now: ${r.emulated.registered.join(', ')}` : '; handlers were registered already';
    rows.push(['QEMU emulation', `${r.emulated.arches.join(', ')}${reg}`]);
  }
  if (r.imageid) rows.push(['Image ID', code(r.imageid)]);
  if (r.dockerfile) rows.push(['Dockerfile', code(r.dockerfile)]);
  if (r.buildMs !== undefined) rows.push(['Build time', formatMs(r.buildMs)]);
  if (r.test) rows.push(['Test (test-run)', testLine(r.test)]);
  const cache = cacheLine(r);
  if (cache) rows.push(['Layer cache', cache]);
  if (r.cache?.coldBuildMs !== undefined && r.buildMs !== undefined && r.cache.hit !== 'miss') {
    const saved = r.cache.coldBuildMs - r.buildMs - r.cache.restoreMs;
    rows.push(['Time saved', `${saved > 0 ? formatMs(saved) : 'none'} against the cold build (${formatMs(r.cache.coldBuildMs)})`]);
  }
  if (r.mounts?.length) {
    const line = r.mounts.map((m) => `${code(m.id)}: ${m.result}${m.result === 'restored' ? ` (${formatBytes(m.bytes)})` : ''}`).join(', ');
    rows.push(['Cache mounts', line]);
  }
  if (r.secretIds.length) rows.push(['Build secrets', `${r.secretIds.map(code).join(', ')} (ids only)`]);
  const scan = r.secretScan;
  if (scan) {
    const found = scan.leakedIds.length ? `found ${scan.leakedIds.map(code).join(', ')}: nothing pushed or cached` : 'no secret value found';
    rows.push(['Leak guard', `${found} (${scan.blobs} blobs, ${formatBytes(scan.decompressedBytes)} read in ${formatMs(scan.ms)})`]);
  }
  const t = r.toolchain;
  if (t) {
    const bk = t.buildkit ? `, BuildKit ${t.buildkit}` : '';
    rows.push(['Toolchain', `Docker ${t.docker}, buildx ${t.buildx}${bk}; builder ${code(t.builder)} (${t.driver} driver)`]);
  }
  if (rows.length) out.push(...table(rows), '');
  return out.join('\n');
}

export interface SaveSummary {
  saved: boolean;
  /** Why nothing was saved. */
  reason?: string;
  entriesSaved: number;
  bytesSaved: number;
  ms: number;
  key?: string;
  /** Saving failed, and what failed (the export's format, the disk, …); the build itself is not affected. */
  failed?: string;
}

/** The post step's section: the layer cache save. */
export function renderSaveSummary(s: SaveSummary): string {
  const out = ['### Layer cache save', ''];
  if (s.failed) out.push(`Not saved: ${s.failed} (the build is not affected).`);
  else if (!s.saved) out.push(`Not saved: ${s.reason ?? 'not enabled'}.`);
  else {
    const key = s.key ? ` under ${code(s.key)}` : '';
    out.push(
      `Saved ${formatBytes(s.bytesSaved)} in ${s.entriesSaved} ${s.entriesSaved === 1 ? 'entry' : 'entries'}${key}, ${formatMs(s.ms)} in the cache service.`,
    );
  }
  out.push('');
  return out.join('\n');
}

/** Appends Markdown to the job summary; a summary that cannot be written is only a debug line. */
export async function appendSummary(markdown: string): Promise<void> {
  try {
    if (!process.env.GITHUB_STEP_SUMMARY) {
      core.debug('No GITHUB_STEP_SUMMARY: job summary not written.');
      return;
    }
    await core.summary.addRaw(markdown, true).write();
  } catch (err) {
    core.debug(`Job summary not written: ${(err as Error).message}`);
  } finally {
    core.summary.emptyBuffer();
  }
}

/** The save section's facts from the post step's save phase (no outcome: the save threw). */
export function saveSummaryFrom(r: { outcome?: SaveOutcome; failure?: string; ms: number }, key: string): SaveSummary {
  if (!r.outcome) return { saved: false, failed: r.failure ?? 'an unknown error', entriesSaved: 0, bytesSaved: 0, ms: r.ms };
  const o = r.outcome;
  return { saved: o.saved, reason: o.reason, entriesSaved: o.entriesSaved, bytesSaved: o.bytesSaved, ms: r.ms, key: o.saved ? (o.key ?? key) : undefined };
}
