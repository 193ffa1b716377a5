import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SingleBar } from 'cli-progress';
import * as hdr from 'hdr-histogram-js';
import { Agent, request } from 'undici';
import { MAX_DURATION_SECONDS, readStressOptions, StressConfigError, type StressOptions } from './options';
import { buildReport, formatReport, type Report } from './report';
import { newHistogram, type WorkerMessage, type WorkerTask } from './worker';

/**
 * `npm run stress`: loads SERVICE_URL with a mix of operations from STRESS_CLUSTERS worker
 * threads, each keeping STRESS_WORKERS requests in flight on keep-alive connections, and
 * reports throughput, latency percentiles and errors by kind. Exit status 1 when the
 * error rate is above STRESS_MAX_ERROR_RATE (or nothing was sent), 2 on bad settings.
 */
export async function stress(options: StressOptions, out: NodeJS.WriteStream = process.stdout): Promise<Report> {
  const started = Date.now();
  const durationMs = (options.durationSeconds ?? MAX_DURATION_SECONDS) * 1000;
  const deadline = started + durationMs;
  let firstAt = Infinity;
  let lastAt = 0;
  const shares = split(options.amount, options.clusters);
  const progress = new Map<number, { requests: number; errors: number }>();
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  let requests = 0;
  let misses = 0;
  let resent = 0;

  const total = options.amount;
  const bar = out.isTTY
    ? new SingleBar({
        format: total === undefined ? ' {bar} {value} requests · {errors} errors · {eta_formatted}' : ' {bar} {percentage}% · {value}/{total} · {errors} errors · eta {eta}s',
        hideCursor: true,
        stream: out,
      })
    : undefined;
  const sum = (): { requests: number; errors: number } =>
    [...progress.values()].reduce((a, b) => ({ requests: a.requests + b.requests, errors: a.errors + b.errors }), { requests: 0, errors: 0 });
  bar?.start(total ?? Math.round((options.durationSeconds ?? 0) * 1000), 0, { errors: 0 });
  const ticker = setInterval(() => {
    const now = sum();
    if (bar !== undefined) bar.update(total === undefined ? Math.min(Date.now() - started, deadline - started) : now.requests, { errors: now.errors });
    else out.write(`stress: ${now.requests} requests, ${now.errors} errors, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, bar === undefined ? 2000 : 200);

  try {
    await Promise.all(
      shares.map(
        (amount, index) =>
          new Promise<void>((resolve, reject) => {
            const task: WorkerTask = {
              serviceUrl: options.serviceUrl,
              amount,
              durationMs,
              workers: options.workers,
              mix: options.mix,
              keys: options.keys,
              valueLength: options.valueLength,
              timeoutMs: options.timeoutMs,
              index,
              connection: { ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }), ...(options.tls === undefined ? {} : { tls: options.tls }) },
            };
            const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: task });
            worker.on('message', (message: WorkerMessage) => {
              if (message.type === 'progress') {
                progress.set(index, { requests: message.requests, errors: message.errors });
                return;
              }
              requests += message.requests;
              misses += message.misses;
              resent += message.resent;
              firstAt = Math.min(firstAt, message.firstAt);
              lastAt = Math.max(lastAt, message.lastAt);
              for (const [kind, count] of Object.entries(message.errors)) errors[kind] = (errors[kind] ?? 0) + count;
              histogram.add(hdr.decodeFromCompressedBase64(message.histogram));
              progress.set(index, { requests: message.requests, errors: Object.values(message.errors).reduce((a, b) => a + b, 0) });
            });
            worker.once('error', reject);
            worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`stress worker ${index} exited with ${code}`))));
          }),
      ),
    );
  } finally {
    clearInterval(ticker);
    bar?.stop();
  }
  // The measured window: first request out to last answer in (thread start-up excluded, as wrk does).
  const seconds = lastAt > firstAt ? (lastAt - firstAt) / 1000 : (Date.now() - started) / 1000;
  const ms = (us: number): number => us / 1000;
  return buildReport(
    {
      requests,
      misses,
      resent,
      errors,
      seconds,
      latencyMs: {
        p50: ms(histogram.getValueAtPercentile(50)),
        p90: ms(histogram.getValueAtPercentile(90)),
        p99: ms(histogram.getValueAtPercentile(99)),
        p999: ms(histogram.getValueAtPercentile(99.9)),
        max: ms(histogram.maxValue),
        mean: ms(histogram.mean),
      },
    },
    options.maxErrorRate,
  );
}

/** `amount` split over `parts` as evenly as whole numbers allow; undefined parts in duration mode. */
export function split(amount: number | undefined, parts: number): (number | undefined)[] {
  if (amount === undefined) return Array.from({ length: parts }, () => undefined);
  return Array.from({ length: parts }, (_, i) => Math.floor(amount / parts) + (i < amount % parts ? 1 : 0)).filter((n) => n > 0);
}

async function main(): Promise<void> {
  let options: StressOptions;
  try {
    options = readStressOptions(process.env, process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof StressConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const what =
    `${options.serviceUrl}, ${options.amount === undefined ? `${options.durationSeconds} s` : `${options.amount} requests`}, ` +
    `${options.clusters} thread(s) × ${options.workers} in flight, mix ${options.mix.map((m) => `${m.op}:${m.weight}`).join(',')}`;
  process.stdout.write(`stress: ${what}\n`);
  const problem = await preflight(options);
  if (problem !== undefined) {
    process.stderr.write(`stress: ${problem.message}\n`);
    process.exit(problem.code);
  }
  const report = await stress(options);
  process.stdout.write(formatReport(report, what));
  if (options.jsonFile !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(options.jsonFile)), { recursive: true });
    fs.writeFileSync(options.jsonFile, `${JSON.stringify({ target: options.serviceUrl, settings: { ...options, mix: options.mix }, ...report }, null, 2)}\n`);
    process.stdout.write(`report written to ${options.jsonFile}\n`);
  }
  process.exitCode = report.passed ? 0 : 1;
}

/**
 * Before sending anything: the target must answer, and the requests must fit its limits
 * (MeshKV says them in /status; a server that does not is loaded as it is). A closed port
 * is exit 1 at once (not a run of failures); a value or key the server would refuse, 2.
 */
export async function preflight(options: StressOptions): Promise<{ code: 1 | 2; message: string } | undefined> {
  let status: { maxKeyLength?: unknown; maxValueLength?: unknown };
  try {
    // undici's request, not fetch: fetch refuses some ports outright ("bad port").
    const res = await request(new URL('/status', options.serviceUrl), {
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.apiKey === undefined ? {} : { headers: { authorization: `Bearer ${options.apiKey}` } }),
      ...(options.tls === undefined ? {} : { dispatcher: new Agent({ connect: { ...options.tls } }) }),
    });
    const text = await res.body.text();
    if (res.statusCode === 401) {
      return { code: 2, message: `SERVICE_URL=${options.serviceUrl} takes API keys (401 ${(parsed(text) ?? {}).error as string}): set SERVICE_KEY to a key with the scopes of the mix${options.apiKey === undefined ? '' : ' (this one is not valid there)'}. Nothing was sent.` };
    }
    status = res.statusCode === 200 ? (parsed(text) ?? {}) : {};
  } catch (error) {
    const cause = (error as { code?: string }).code ?? (error as Error).message;
    return { code: 1, message: `cannot connect to SERVICE_URL=${options.serviceUrl} (${cause}): is MeshKV running there? Nothing was sent.` };
  }
  const longestKey = `stress-${Math.max(0, options.keys - 1)}`.length;
  if (typeof status.maxValueLength === 'number' && options.valueLength > status.maxValueLength) {
    return { code: 2, message: `STRESS_VALUE_LENGTH (${options.valueLength}) is above the server's MAX_VALUE_LENGTH (${status.maxValueLength}): every write would get 400. Use at most ${status.maxValueLength}.` };
  }
  if (typeof status.maxKeyLength === 'number' && longestKey > status.maxKeyLength) {
    return { code: 2, message: `STRESS_KEYS (${options.keys}) makes keys of ${longestKey} characters, above the server's MAX_KEY_LENGTH (${status.maxKeyLength}).` };
  }
  return undefined;
}

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`stress: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
