// What a run did, collected by the phases for the job summary and the logs. Never holds a secret
// value: secrets appear by id only.
import type { CacheHit } from './cache/store.js';

export interface Report {
  tags: string[];
  pushed: boolean;
  pushReason: string;
  /** What the plan decided (pushReason says why); `pushed` is what happened. */
  pushPlanned?: boolean;
  digest?: string;
  imageid?: string;
  secretIds: string[];
  toolchain?: { docker: string; buildx: string; driver: string; builder: string; buildkit?: string };
  cache?: {
    hit: CacheHit;
    bytesRestored: number;
    entriesRestored: number;
    restoreMs: number;
    saveReason?: string;
    /** Build time of the run that made the restored cache (when the cache records it): the summary
     *  shows the time saved against it. */
    coldBuildMs?: number;
    /** The build made nothing the restored cache lacked: the post step saves nothing. */
    unchanged?: boolean;
  };
  /** Cache mounts restored before the build (cache-mounts), one per mount. */
  mounts?: { id: string; result: 'restored' | 'kept' | 'miss' | 'failed'; bytes: number; key?: string }[];
  buildMs?: number;
  /** What the leak guard checked (secret ids only, never values). */
  secretScan?: { blobs: number; storedBytes: number; decompressedBytes: number; ms: number; leakedIds: string[] };
  /** The test-run commands' result (exit code 0: passed). */
  test?: { exitCode: number; ms: number };
  /** Target platforms of the build (or of the merge), as given. */
  platforms?: string[];
  /** Platform -> the digest of its image in the registry. */
  platformDigests?: Record<string, string>;
  /** distribute: platform (pushed by digest, handed to the merge) or merge (the index). */
  distribute?: 'platform' | 'merge';
  /** The cache key a platform job handed its digest over under. */
  handoverKey?: string;
  /** Architectures run under QEMU, and those this step registered handlers for. */
  emulated?: { arches: string[]; registered: string[] };
  /** The run resolved everything but did not run Docker (dry-run: true). */
  dryRun?: boolean;
  /** The Dockerfile built, as given (relative to the workspace unless absolute). */
  dockerfile?: string;
  /** One line: why the step failed. */
  error?: string;
  /** Where in the Dockerfile the build failed, when buildx said (workspace-relative file). */
  errorLocation?: { file: string; startLine: number; endLine: number };
}

/** Adds to the run's report: main owns the report, phases hand it what they did through this. */
export type Note = (part: Partial<Report>) => void;
