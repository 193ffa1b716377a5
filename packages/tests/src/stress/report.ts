/** What one run measured, before formatting. */
export interface RunTotals {
  /** Requests answered or failed (every request that ended). */
  readonly requests: number;
  /** Answers that are right but say "not there" (404 on get, is, rm): not errors. */
  readonly misses: number;
  /**
   * Requests sent a second time because a reused keep-alive connection closed before any
   * byte of their answer (what HTTP clients do; a backend that died behind the balancer).
   * Not errors: each one got its answer on the second try, or is counted in `errors`.
   */
  readonly resent: number;
  /** Failures by kind: `HTTP 503`, `ECONNREFUSED`, `timeout`, … */
  readonly errors: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Latency percentiles in milliseconds. */
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

export interface Report extends RunTotals {
  readonly errorCount: number;
  readonly errorRate: number;
  /** Requests per second over the whole run: a rate, not a latency. */
  readonly throughput: number;
  readonly passed: boolean;
  readonly maxErrorRate: number;
}

export function buildReport(totals: RunTotals, maxErrorRate: number): Report {
  const errorCount = Object.values(totals.errors).reduce((sum, n) => sum + n, 0);
  const errorRate = totals.requests === 0 ? 0 : errorCount / totals.requests;
  return {
    ...totals,
    errorCount,
    errorRate,
    throughput: totals.seconds > 0 ? totals.requests / totals.seconds : 0,
    // A run that sent nothing proves nothing: it fails too.
    passed: totals.requests > 0 && errorRate <= maxErrorRate,
    maxErrorRate,
  };
}

/** The report as lines of text for a terminal or a log. */
export function formatReport(report: Report, what: string): string {
  const n = (value: number, digits = 0): string =>
    value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const l = report.latencyMs;
  const lines = [
    '',
    `MeshKV stress report — ${what}`,
    `  requests    ${n(report.requests)} in ${n(report.seconds, 2)} s (${n(report.misses)} answered "not found", which is not an error)`,
    `  throughput  ${n(report.throughput)} requests/s`,
    `  latency     p50 ${n(l.p50, 2)} ms · p90 ${n(l.p90, 2)} ms · p99 ${n(l.p99, 2)} ms · p99.9 ${n(l.p999, 2)} ms · max ${n(l.max, 2)} ms · mean ${n(l.mean, 2)} ms`,
    `  errors      ${n(report.errorCount)} (${(report.errorRate * 100).toFixed(3)} %; allowed ${(report.maxErrorRate * 100).toFixed(3)} %)`,
  ];
  for (const [kind, count] of Object.entries(report.errors).sort((a, b) => b[1] - a[1])) lines.push(`    ${kind}: ${n(count)}`);
  if (report.resent > 0) lines.push(`  resent      ${n(report.resent)} (a reused connection closed before answering; sent again once)`);
  lines.push(`  result      ${report.passed ? 'PASS' : 'FAIL'}`, '');
  return lines.join('\n');
}
