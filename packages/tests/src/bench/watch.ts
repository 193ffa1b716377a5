import { type ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { waitFor } from '@meshkv/common';
import { Pool } from 'undici';
import type { NodeProcess } from '../cluster/node-process';
import { type LagResult, pacedWrites } from './mesh';
import { pinned } from './processes';
import { percentile } from './stats';

/** What the watchers process says (watchers.ts). */
export interface WatchersReport {
  readonly open: number;
  readonly reconnects: number;
  /** Reconnections told CURSOR_EXPIRED: those watches fell out of the buffer and started again from the present. */
  readonly expired: number;
  /** Events received, by 100 ms bucket (epoch ms of its start). */
  readonly buckets: readonly (readonly [number, number])[];
  /** The lowest sequence of the last event any watch received. */
  readonly minSeq: number;
}

export interface Watchers {
  report(): Promise<WatchersReport>;
  stop(): void;
}

/** Starts `count` SSE watches of every key of the node at `url`, in a process of their own (on `cpus`); resolves once all are open. */
export async function startWatchers(url: string, count: number, cpus: string | undefined): Promise<Watchers> {
  const [command, args] = pinned(cpus, process.execPath, [path.join(__dirname, 'watchers.js'), url, String(count)]);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const watchers: Watchers = {
    report: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the watchers process did not answer')), 10_000);
        child.once('message', (message) => {
          clearTimeout(timer);
          resolve(message as WatchersReport);
        });
        child.send({ cmd: 'report' });
      }),
    stop: () => child.kill('SIGKILL'),
  };
  try {
    await waitFor(async () => (await watchers.report()).open === count, 30_000, `${count} watches open`);
  } catch (error) {
    watchers.stop();
    throw error;
  }
  return watchers;
}

/** Events the watchers received between `from` and `to` (epoch ms), from their 100 ms buckets. */
export function eventsBetween(report: WatchersReport, from: number, to: number): number {
  let events = 0;
  for (const [at, count] of report.buckets) if (at >= from && at < to) events += count;
  return events;
}

/**
 * Latency from a write on the first node to its event on a watcher of the third: writes at
 * `rate` a second for `seconds` on A, each key once; a server-sent event watch of their
 * prefix on C, in this process, notes when each event arrives. Latency = arrival − the
 * moment the write was sent (one clock: this process's).
 */
export async function eventLatency(nodes: readonly NodeProcess[], rate: number, seconds: number): Promise<LagResult> {
  const writer = nodes[0] as NodeProcess;
  const watched = nodes[2] as NodeProcess;
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const total = rate * seconds;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const req = http.get(`${watched.url}/watch?prefix=latency-`, { agent: false }, (res) => {
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      const arrived = performance.now();
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        if (data === undefined) continue;
        const event = JSON.parse(data) as { type: string; k?: string };
        if (event.type === 'open') opened();
        const at = event.k === undefined ? undefined : sent.get(event.k);
        if (at !== undefined) latencies.push(arrived - at);
      }
    });
  });
  const writes = new Pool(writer.url, { connections: 16 });
  try {
    await open;
    await pacedWrites(writes, 'latency-', rate, seconds, { send: (key) => sent.set(key, performance.now()) });
    await waitFor(() => latencies.length === total, 10_000, 'every event on the third node');
  } finally {
    req.destroy();
    await writes.close();
  }
  return { rate, seconds, samples: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: percentile(latencies, 100) };
}
