// Streaming search for several byte strings at once. Each chunk is searched with Buffer#indexOf
// (native, fast for needles of 8 bytes and more); a match that spans two chunks is found in a small
// window made of the end of the previous data and the start of the new chunk.

export class StreamSearch {
  private readonly maxLen: number;
  private tail: Buffer = Buffer.alloc(0);
  private readonly found = new Set<number>();
  /** Bytes seen so far. */
  bytes = 0;

  constructor(private readonly needles: Buffer[]) {
    this.maxLen = needles.reduce((m, n) => Math.max(m, n.length), 0);
    for (const n of needles) if (n.length === 0) throw new Error('StreamSearch: empty needle');
  }

  /** Indexes (into the needles given) of the needles found so far. */
  hits(): number[] {
    return [...this.found].sort((a, b) => a - b);
  }

  get done(): boolean {
    return this.found.size === this.needles.length;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (chunk.length === 0 || this.needles.length === 0 || this.done) return;
    const keep = this.maxLen - 1;
    if (this.tail.length > 0 && keep > 0) {
      // Every match that starts in the tail and ends in this chunk lies inside this window.
      const window = Buffer.concat([this.tail, chunk.subarray(0, keep)]);
      this.searchIn(window);
    }
    this.searchIn(chunk);
    if (keep === 0) return;
    if (chunk.length >= keep) this.tail = Buffer.from(chunk.subarray(chunk.length - keep));
    else {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
    }
  }

  private searchIn(buf: Buffer): void {
    for (let i = 0; i < this.needles.length; i++) {
      if (this.found.has(i)) continue;
      const n = this.needles[i];
      if (n.length <= buf.length && buf.indexOf(n) !== -1) this.found.add(i);
    }
  }
}
