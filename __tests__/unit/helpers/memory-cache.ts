// An in-memory Actions cache service for unit tests of the layer cache (src/cache/store.ts). It
// behaves as the service does for the calls the store makes: an entry is found only with the same
// paths it was saved from (relative to the runner's root, as @actions/cache versions entries), the
// key and each restore key match exactly first and else by prefix (the newest entry), and a key is
// saved once (a second save is refused as taken). Faults can be set per entry key: a failed
// download, one cut short (it leaves a partial file), or a call abandoned at its deadline (the
// step's cache phase then gives up, as CachePhase does when its budget is spent).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { CacheService } from '../../../src/cache/service.js';

export type Fault = 'fail' | 'partial' | 'abandon';

interface Entry {
  key: string;
  /** The entry's paths, relative to the root it was saved from. */
  version: string;
  /** Relative file path -> bytes. */
  files: Map<string, Buffer>;
  seq: number;
}

export interface Call {
  verb: 'restore' | 'lookup' | 'save';
  key: string;
  /** The key matched (restore, lookup) or true when stored (save). */
  result?: string | boolean;
}

async function filesUnder(root: string, abs: string, out: Map<string, Buffer>): Promise<void> {
  const st = await fs.stat(abs).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) {
    for (const name of (await fs.readdir(abs)).sort()) await filesUnder(root, path.join(abs, name), out);
  } else {
    out.set(path.relative(root, abs), await fs.readFile(abs));
  }
}

/** The service's side: the entries and what was asked of it; `client` is one runner's view. */
export class MemoryCache {
  readonly entries = new Map<string, Entry>();
  readonly calls: Call[] = [];
  /** A fault for the next call that reaches an entry key (each used once). */
  readonly faults = new Map<string, Fault>();
  /** Runs after a restore (not a lookup) found `key`: a test evicts entries here. */
  afterRestore?: (key: string) => void;
  private seq = 0;

  /** Removes an entry, as the service does with one unused for a while. */
  evict(key: string): void {
    if (!this.entries.delete(key)) throw new Error(`no entry ${key} to evict`);
  }

  keys(prefix = ''): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Keys stored by save calls, in order. */
  saved(prefix = ''): string[] {
    return this.calls.filter((c) => c.verb === 'save' && c.result === true && c.key.startsWith(prefix)).map((c) => c.key);
  }

  private find(version: string, keys: string[]): Entry | undefined {
    for (const k of keys) {
      const exact = this.entries.get(k);
      if (exact && exact.version === version) return exact;
      const byPrefix = [...this.entries.values()].filter((e) => e.version === version && e.key.startsWith(k)).sort((a, b) => b.seq - a.seq);
      if (byPrefix[0]) return byPrefix[0];
    }
    return undefined;
  }

  /** The service as a runner whose working files live under `root` sees it. */
  client(root: string): CacheService & { gaveUp: boolean; lastFault?: string } {
    const taken = new Set<string>();
    const version = (paths: string[]) =>
      paths
        .map((p) => path.relative(root, p))
        .sort()
        .join('\n');
    const svc: CacheService & { gaveUp: boolean; lastFault?: string } = {
      gaveUp: false,
      wasTaken: (key) => taken.has(key),
      restore: async (paths, key, restoreKeys, opts) => {
        const call: Call = { verb: opts?.lookupOnly ? 'lookup' : 'restore', key };
        if (svc.gaveUp) return undefined;
        this.calls.push(call);
        const entry = this.find(version(paths), [key, ...restoreKeys]);
        if (!entry) return undefined;
        const fault = this.faults.get(entry.key);
        if (fault) {
          this.faults.delete(entry.key);
          svc.lastFault = `${fault} of ${entry.key}`;
          if (fault === 'abandon') svc.gaveUp = true;
          if (fault === 'partial' && !opts?.lookupOnly) {
            const [rel, data] = [...entry.files][0];
            await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
            await fs.writeFile(path.join(root, rel), data.subarray(0, Math.floor(data.length / 2)));
          }
          return undefined;
        }
        if (!opts?.lookupOnly) {
          for (const [rel, data] of entry.files) {
            await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
            await fs.writeFile(path.join(root, rel), data);
          }
          this.afterRestore?.(entry.key);
        }
        call.result = entry.key;
        return entry.key;
      },
      save: async (paths, key) => {
        const call: Call = { verb: 'save', key, result: false };
        if (svc.gaveUp) return false;
        this.calls.push(call);
        if (this.faults.get(key) === 'fail') {
          this.faults.delete(key);
          svc.lastFault = `fail of ${key}`;
          return false;
        }
        if (this.entries.has(key)) {
          taken.add(key);
          return false;
        }
        const files = new Map<string, Buffer>();
        for (const p of paths) await filesUnder(root, p, files);
        if (files.size === 0) return false;
        this.entries.set(key, { key, version: version(paths), files, seq: ++this.seq });
        call.result = true;
        return true;
      },
    };
    return svc;
  }
}
