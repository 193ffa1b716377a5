import { paths } from '@meshkv/client';
import * as hdr from 'hdr-histogram-js';
import { parentPort, workerData } from 'node:worker_threads';
import { type ConnectionOptions, HttpConnection, RequestError } from './connection';
import { type MixEntry, type Operation, pick } from './mix';

/** What the main thread gives a worker. */
export interface WorkerTask {
  readonly serviceUrl: string;
  /** Requests this worker sends; undefined when bounded by `deadline` only. */
  readonly amount: number | undefined;
  /** No request starts later than this after the worker starts (every loop is bounded in time). */
  readonly durationMs: number;
  readonly workers: number;
  readonly mix: MixEntry[];
  readonly keys: number;
  readonly valueLength: number;
  readonly timeoutMs: number;
  readonly index: number;
  readonly connection: ConnectionOptions;
}

export type WorkerMessage =
  | { type: 'progress'; requests: number; errors: number }
  | {
      type: 'done';
      requests: number;
      misses: number;
      /** Requests sent again after a reused connection closed before answering them. */
      resent: number;
      errors: Record<string, number>;
      histogram: string;
      /** When the first request left and the last answer came (epoch ms): the measured window. */
      firstAt: number;
      lastAt: number;
    };

/** Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

/** One request of the mix: method, target (the client's) and body. */
export interface StressRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
}

/** Keys a `batch` operation writes, from key number `n` on. */
export const BATCH_WRITES = 10;

/** The request of an operation on key number `n` (of `keys`). */
export function requestFor(op: Operation, n: number, value: string, keys = Number.MAX_SAFE_INTEGER): StressRequest {
  const key = `stress-${n}`;
  switch (op) {
    case 'set':
      return { method: 'GET', path: paths.set(key, value) };
    case 'set-ttl':
      return { method: 'GET', path: paths.set(key, value, { ttl: '1m' }) };
    case 'expire':
      return { method: 'GET', path: paths.expire(key, '1m') };
    case 'index':
      return { method: 'GET', path: paths.index() };
    case 'scan':
      return { method: 'GET', path: paths.scan({ after: key, limit: 10 }) };
    case 'whoami':
      return { method: 'GET', path: paths.whoami() };
    case 'keys-list':
      return { method: 'GET', path: paths.listKeys() };
    case 'tenants-list':
      return { method: 'GET', path: paths.tenants() };
    case 'metrics':
      return { method: 'GET', path: paths.metrics() };
    case 'ui':
      return { method: 'GET', path: paths.ui() };
    case 'ready':
      return { method: 'GET', path: paths.ready() };
    case 'watch':
      return { method: 'GET', path: paths.watch({ key, wait: 0 }) };
    case 'publish':
      return { method: 'GET', path: paths.publish('stress', value) };
    case 'kv-get':
      return { method: 'GET', path: paths.kv(key) };
    case 'kv-put':
      return { method: 'PUT', path: paths.kv(key), body: value };
    case 'kv-delete':
      return { method: 'DELETE', path: paths.kv(key) };
    case 'batch': {
      const ops = Array.from({ length: BATCH_WRITES }, (_, i) => ({ op: 'set', k: `stress-${(n + i) % keys}`, v: value }));
      return { method: 'POST', path: paths.batch(), body: JSON.stringify({ ops }) };
    }
    default:
      return { method: 'GET', path: paths[op](key) };
  }
}

/** Operations whose 404 is a miss (the key was not there), not an error. */
const MAY_MISS: ReadonlySet<Operation> = new Set(['get', 'is', 'rm', 'expire', 'persist', 'ttl', 'meta', 'kv-get', 'kv-delete']);

async function run(task: WorkerTask): Promise<void> {
  const url = new URL(task.serviceUrl);
  const connections = Array.from(
    { length: task.workers },
    () => new HttpConnection(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || (url.protocol === 'https:' ? 443 : 80)), url.host, task.connection),
  );
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) connection.checkTimeout(now);
  }, 50);
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  let requests = 0;
  let misses = 0;
  let started = 0;
  const value = 'v'.repeat(task.valueLength);
  const firstAt = Date.now();
  const deadline = firstAt + task.durationMs;
  const more = (): boolean => (task.amount === undefined || started < task.amount) && Date.now() < deadline;

  const loop = async (connection: HttpConnection): Promise<void> => {
    while (more()) {
      started++;
      const op = pick(task.mix, Math.random());
      const request = requestFor(op, Math.floor(Math.random() * task.keys), value, task.keys);
      const begin = performance.now();
      try {
        const status = await connection.send(request.method, request.path, request.body, task.timeoutMs);
        if (status === 404 && MAY_MISS.has(op)) misses++;
        else if (status !== 200) errors[`HTTP ${status}`] = (errors[`HTTP ${status}`] ?? 0) + 1;
      } catch (error) {
        const kind = error instanceof RequestError ? error.kind : String(error);
        errors[kind] = (errors[kind] ?? 0) + 1;
        // A refused connection fails at once: do not spin on it.
        if (kind !== 'timeout') await new Promise((resolve) => setTimeout(resolve, 10));
      }
      histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
      requests++;
    }
  };

  const progress = setInterval(() => {
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    parentPort?.postMessage({ type: 'progress', requests, errors: failed } satisfies WorkerMessage);
  }, 250);
  await Promise.all(connections.map(loop));
  clearInterval(progress);
  clearInterval(sweep);
  const lastAt = Date.now();
  for (const connection of connections) connection.close();
  parentPort?.postMessage({
    type: 'done',
    firstAt,
    lastAt,
    requests,
    misses,
    resent: connections.reduce((sum, connection) => sum + connection.resent, 0),
    errors,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
  } satisfies WorkerMessage);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object') {
  void run(workerData as WorkerTask);
}
