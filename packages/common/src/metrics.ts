import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import type { Buckets } from './buckets';

/** Label values of one series. */
export type LabelValues<T extends string> = Partial<Record<T, string | number>>;

/** One label set of a BucketHistogram and the buckets it reads. */
export interface BucketSeries<T extends string> {
  readonly labels: LabelValues<T>;
  readonly buckets: Buckets;
}

interface MetricSpec<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly T[];
  readonly registry: Registry;
}

/**
 * Node's own metrics as prom-client names them (memory, CPU, event-loop lag, GC, handles),
 * less three gauges whose names end in `_total`, which Prometheus keeps for counters
 * (`promtool check metrics` says so): the same figures stay, by type, in
 * nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
 */
export function collectNodeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
}

/** A histogram whose values live in `Buckets` kept elsewhere: `series()` gives each label set with its buckets. */
export interface BucketFamily<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly series: () => Iterable<BucketSeries<T>>;
}

/**
 * What /metrics answers: the registry's metrics (prom-client), then histograms written
 * from Buckets kept elsewhere (on the request path, say), in the same text format. Those
 * never go through prom-client's `observe`, which hashes its labels on every call; they
 * are read only when scraped.
 */
export class MetricsPage {
  private readonly families: BucketFamily<string>[] = [];

  constructor(readonly registry: Registry) {}

  /** Adds a histogram read from Buckets. */
  addBuckets<T extends string>(family: BucketFamily<T>): void {
    this.families.push(family);
  }

  async render(): Promise<string> {
    return (await this.registry.metrics()) + this.families.map(histogramText).join('');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** One histogram in Prometheus' text format (0.0.4): cumulative buckets, +Inf, sum and count per label set. */
function histogramText(family: BucketFamily<string>): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} histogram`];
  for (const { labels, buckets } of family.series()) {
    const own = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(String(value))}"`);
    const set = (extra: string[]): string => (own.length + extra.length === 0 ? '' : `{${[...own, ...extra].join(',')}}`);
    let cumulative = 0;
    buckets.bounds.forEach((bound, i) => {
      cumulative += buckets.counts[i] as number;
      lines.push(`${family.name}_bucket${set([`le="${bound}"`])} ${cumulative}`);
    });
    lines.push(`${family.name}_bucket${set(['le="+Inf"'])} ${buckets.count}`, `${family.name}_sum${set([])} ${buckets.sum}`, `${family.name}_count${set([])} ${buckets.count}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}

/** What a metric read at scrape time gives: one value, or one per label set. */
type Reading<T extends string> = () => number | Iterable<readonly [LabelValues<T>, number]>;

/** Calls `put` with each value `read` gives now (and its labels, if it has some). */
function each<T extends string>(read: Reading<T>, put: (value: number, labels?: LabelValues<T>) => void): void {
  const value = read();
  if (typeof value === 'number') put(value);
  else for (const [labels, v] of value) put(v, labels);
}

function options<T extends string>(spec: MetricSpec<T>): { name: string; help: string; labelNames: readonly T[]; registers: Registry[] } {
  return { name: spec.name, help: spec.help, labelNames: spec.labelNames ?? [], registers: [spec.registry] };
}

/** A gauge set at scrape time from `read`: one value, or one per label set (label sets gone are dropped). */
export function gaugeOf<T extends string>(spec: MetricSpec<T>, read: Reading<T>): Gauge<T> {
  return new Gauge<T>({
    ...options(spec),
    collect() {
      this.reset();
      each(read, (value, labels) => (labels === undefined ? this.set(value) : this.set(labels, value)));
    },
  });
}

/**
 * A counter set at scrape time from totals counted elsewhere (the mesh's, the proxy's):
 * `read` gives the total since start, once or per label set.
 */
export function counterOf<T extends string>(spec: MetricSpec<T>, read: Reading<T>): Counter<T> {
  return new Counter<T>({
    ...options(spec),
    collect() {
      this.reset();
      each(read, (value, labels) => (labels === undefined ? this.inc(value) : this.inc(labels, value)));
    },
  });
}
