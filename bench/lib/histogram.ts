/**
 * A fixed-bucket latency histogram: 10 µs buckets up to 1 s, then 1 ms buckets up to 120 s. Cheap to
 * record into on the load client's hot path and small to ship over IPC (only non-zero buckets).
 * @module
 */
const FINE = 100_000; // 0..1000 ms in 0.01 ms steps
const COARSE = 119_000; // 1 s..120 s in 1 ms steps

export class Histogram {
  readonly counts = new Uint32Array(FINE + COARSE + 1);
  total = 0;
  max = 0;

  record(ms: number, n = 1): void {
    const v = Math.max(ms, 0);
    let i: number;
    if (v < 1000) i = Math.floor(v * 100);
    else i = Math.min(FINE + Math.floor(v - 1000), FINE + COARSE);
    this.counts[i] = (this.counts[i] as number) + n;
    this.total += n;
    if (v > this.max) this.max = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.max = 0;
  }

  /** Non-zero buckets as [index, count] pairs. */
  toSparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i] as number;
      if (c !== 0) out.push([i, c]);
    }
    return out;
  }

  addSparse(pairs: readonly [number, number][], max: number): void {
    for (const [i, c] of pairs) {
      this.counts[i] = (this.counts[i] as number) + c;
      this.total += c;
    }
    if (max > this.max) this.max = max;
  }

  /** Upper edge of the bucket holding the q-quantile, in ms (NaN when empty). */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return i < FINE ? (i + 1) / 100 : 1000 + (i - FINE + 1);
    }
    return this.max;
  }
}
