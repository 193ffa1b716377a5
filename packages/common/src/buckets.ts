/** Upper bounds in seconds for the latencies of requests, commits and replication (+Inf after the last). */
export const LATENCY_BOUNDS_S: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A histogram cheap enough for every request: a count per bucket (not cumulative; the last
 * one is +Inf), a sum and a count, in plain numbers. Observing is a short scan and three
 * additions: no labels, no strings, no allocation. Prometheus reads it at scrape time
 * (`bucketHistogram` in metrics.ts), so the request path never pays for the text format.
 */
export class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BOUNDS_S) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one value (seconds, for latencies); a value equal to a bound falls in that bound's bucket. */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}
