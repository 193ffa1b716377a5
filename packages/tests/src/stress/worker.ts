import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { parentPort, workerData } from 'node:worker_threads';
import { type MixEntry, type Operation, pick } from './mix';

/** What the main thread gives a worker. */
export interface WorkerTask {
  readonly serviceUrl: string;
  /** Requests this worker sends; undefined when bounded by `deadline` only. */
  readonly amount: number | undefined;
  /** Epoch ms after which no request starts (always set: every loop is bounded in time). */
  readonly deadline: number;
  readonly workers: number;
  readonly mix: MixEntry[];
  readonly keys: number;
  readonly valueLength: number;
  readonly timeoutMs: number;
  readonly index: number;
}

export type WorkerMessage =
  | { type: 'progress'; requests: number; errors: number }
  | { type: 'done'; requests: number; misses: number; errors: Record<string, number>; histogram: string };

/** Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

/** `/set?…` etc. for an operation on key number `n`. */
export function pathFor(op: Operation, n: number, value: string): string {
  const key = `stress-${n}`;
  return op === 'set' ? `/set?k=${key}&v=${value}` : `/${op}?k=${key}`;
}

async function run(task: WorkerTask): Promise<void> {
  const pool = new Pool(task.serviceUrl, { connections: task.workers, pipelining: 1 });
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  let requests = 0;
  let misses = 0;
  let started = 0;
  const value = 'v'.repeat(task.valueLength);
  const more = (): boolean => (task.amount === undefined || started < task.amount) && Date.now() < task.deadline;

  const loop = async (): Promise<void> => {
    while (more()) {
      started++;
      const op = pick(task.mix, Math.random());
      const path = pathFor(op, Math.floor(Math.random() * task.keys), value);
      const begin = process.hrtime.bigint();
      try {
        const res = await pool.request({ method: 'GET', path, headersTimeout: task.timeoutMs, bodyTimeout: task.timeoutMs });
        await res.body.dump();
        if (res.statusCode === 404 && op !== 'set') misses++;
        else if (res.statusCode !== 200) errors[`HTTP ${res.statusCode}`] = (errors[`HTTP ${res.statusCode}`] ?? 0) + 1;
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        const kind = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : code;
        errors[kind] = (errors[kind] ?? 0) + 1;
      }
      histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - begin) / 1000n)));
      requests++;
    }
  };

  const progress = setInterval(() => {
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    parentPort?.postMessage({ type: 'progress', requests, errors: failed } satisfies WorkerMessage);
  }, 250);
  await Promise.all(Array.from({ length: task.workers }, loop));
  clearInterval(progress);
  await pool.close();
  parentPort?.postMessage({
    type: 'done',
    requests,
    misses,
    errors,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
  } satisfies WorkerMessage);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object') {
  void run(workerData as WorkerTask);
}
