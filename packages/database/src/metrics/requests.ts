import { Buckets } from '@meshkv/common';
import type { BucketSeries } from '@meshkv/common/metrics';
import type { Route } from '../http/router';

/** The methods a route can take; anything else is counted as `other`. */
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;
const OTHER = METHODS.length;
/** The `route` label of a request that matched no route, or was refused before routing. */
export const NO_ROUTE = 'none';

type Label = 'route' | 'method' | 'status';

interface Series extends BucketSeries<Label> {
  readonly labels: { readonly route: string; readonly method: string; readonly status: number };
}

/**
 * The latency of every request by route, method and status, kept in Buckets (no strings
 * built per request): a map per route, keyed by a small number made of the status and the
 * method. Routes are few and fixed (the pattern, never the path: `/kv/{key}`), so the
 * series stay few whatever clients send.
 */
export class RequestStats {
  private readonly byRoute = new Map<Route | undefined, Map<number, Series>>();

  /** Counts one request that took `seconds`, answered `status`. */
  observe(route: Route | undefined, method: string, status: number, seconds: number): void {
    let routeSeries = this.byRoute.get(route);
    if (routeSeries === undefined) {
      routeSeries = new Map();
      this.byRoute.set(route, routeSeries);
    }
    const methodIndex = methodIndexOf(method);
    const slot = status * 8 + methodIndex;
    let series = routeSeries.get(slot);
    if (series === undefined) {
      series = { labels: { route: route?.pattern ?? NO_ROUTE, method: METHODS[methodIndex] ?? 'other', status }, buckets: new Buckets() };
      routeSeries.set(slot, series);
    }
    series.buckets.observe(seconds);
  }

  /** Requests answered so far by routes that read data (access `read`) and that write it (`write`). */
  totals(): { reads: number; writes: number } {
    let reads = 0;
    let writes = 0;
    for (const [route, routeSeries] of this.byRoute) {
      if (route === undefined) continue;
      for (const series of routeSeries.values()) {
        const access = route.access(series.labels.method);
        if (access === 'read') reads += series.buckets.count;
        else if (access === 'write') writes += series.buckets.count;
      }
    }
    return { reads, writes };
  }

  /** Every series counted so far. */
  *series(): Iterable<Series> {
    for (const routeSeries of this.byRoute.values()) yield* routeSeries.values();
  }
}

function methodIndexOf(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'PUT':
      return 2;
    case 'POST':
      return 3;
    case 'DELETE':
      return 4;
    default:
      return OTHER;
  }
}
