// What a run did, collected by the phases for the job summary and the logs. Never holds a secret
// value: secrets appear by id only.
import type { CacheHit } from './cache/store.js';

export interface Report {
  tags: string[];
  pushed: boolean;
  pushReason: string;
  digest?: string;
  imageid?: string;
  secretIds: string[];
  toolchain?: { docker: string; buildx: string; driver: string; builder: string };
  cache?: {
    hit: CacheHit;
    bytesRestored: number;
    entriesRestored: number;
    restoreMs: number;
    saveReason?: string;
  };
  buildMs?: number;
  error?: string;
}
