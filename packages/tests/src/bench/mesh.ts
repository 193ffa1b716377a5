import { waitFor } from '@meshkv/common';
import { Pool } from 'undici';
import { loadDirect } from '../cluster/load';
import type { SyncRound } from '@meshkv/client';
import { NodeProcess } from '../cluster/node-process';
import { percentile } from './stats';

/**
 * Replication benchmarks on 3 real node processes: how long a write takes to show up on
 * a peer at a steady write rate, and what anti-entropy costs for 100,000 keys. The
 * throughput of /set in a mesh is measured by index.ts, paired with a lone node.
 */

const SECRET = 'bench-secret';
export const MESH_ENV: Record<string, string> = {
  MESH_SECRET: SECRET,
  PING_INTERVAL_MS: '200',
  AE_INTERVAL_MS: '1000',
};

/** Starts `count` nodes seeded with the first; resolves once all of them see each other. */
export async function startMesh(count: number, cpusOf: (i: number) => string | undefined, env: Record<string, string> = {}): Promise<NodeProcess[]> {
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const seed = i === 0 ? '' : (nodes[0] as NodeProcess).url;
      const cpus = cpusOf(i);
      nodes.push(await NodeProcess.start(`mesh-${i + 1}`, { ...MESH_ENV, MESH_NETWORK_URL: seed, ...env }, cpus === undefined ? {} : { cpus }));
    }
    await waitFor(async () => {
      const statuses = await Promise.all(nodes.map((n) => n.status()));
      return statuses.every((s) => s.ready && s.peers.filter((p) => p.state === 'alive').length === count - 1);
    }, 15_000, 'every node ready and alive on every other');
    return nodes;
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

export interface LagResult {
  readonly rate: number;
  readonly seconds: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Writes `/set?k=<prefix><i>&v=<i>` through `writes` at `rate` a second for `seconds`, each
 * key once, at most 257 unanswered at a time; `on.send` is called as each leaves, `on.ack`
 * once it is answered. Resolves when every write is answered.
 */
export async function pacedWrites(
  writes: Pool,
  prefix: string,
  rate: number,
  seconds: number,
  on: { readonly send?: (key: string, i: number) => void; readonly ack?: (key: string, i: number) => void },
): Promise<void> {
  const total = rate * seconds;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const key = `${prefix}${i}`;
    on.send?.(key, i);
    inFlight.push(
      writes.request({ method: 'GET', path: `/set?k=${key}&v=${i}` }).then(async (res) => {
        await res.body.dump();
        on.ack?.(key, i);
      }),
    );
    if (inFlight.length > 256) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
}

export interface LagRounds {
  /** The first round, on processes just started (JIT compilation, heaps and pools growing): not in the median. */
  readonly cold: LagResult;
  readonly rounds: readonly LagResult[];
}

/**
 * Replication lag in rounds on the same processes: a first (cold) round, then `rounds`
 * measured ones, each of `seconds` at `rate` writes/s (see lagRound).
 */
export async function replicationLag(nodes: readonly NodeProcess[], rate: number, seconds: number, rounds: number): Promise<LagRounds> {
  const [writer, reader] = nodes as [NodeProcess, NodeProcess];
  const writes = new Pool(writer.url, { connections: 16 });
  const reads = new Pool(reader.url, { connections: 16 });
  try {
    const cold = await lagRound(writes, reads, 'lag-cold-', rate, seconds);
    const measured: LagResult[] = [];
    for (let round = 0; round < rounds; round++) measured.push(await lagRound(writes, reads, `lag-${round}-`, rate, seconds));
    return { cold, rounds: measured };
  } finally {
    await writes.close();
    await reads.close();
  }
}

/**
 * Writes through `writes` (node 1) at `rate` writes/s for `seconds`; for every 10th write,
 * polls `reads` (node 2, about every millisecond) from the moment node 1 acknowledged it
 * until node 2 returns it. Lag = that wait, give or take the polling interval.
 */
async function lagRound(writes: Pool, reads: Pool, prefix: string, rate: number, seconds: number): Promise<LagResult> {
  const lags: number[] = [];
  const probes: Promise<void>[] = [];
  await pacedWrites(writes, prefix, rate, seconds, {
    ack: (key, i) => {
      if (i % 10 !== 0) return;
      const acked = performance.now();
      probes.push(
        (async () => {
          for (let attempt = 0; attempt < 10_000; attempt++) {
            const probe = await reads.request({ method: 'GET', path: `/get?k=${key}` });
            await probe.body.dump();
            if (probe.statusCode === 200) {
              lags.push(performance.now() - acked);
              return;
            }
            // A timeout of 0.5 ms waits about 1 ms: resolution enough, without swamping node 2.
            await new Promise((resolve) => setTimeout(resolve, 0.5));
          }
        })(),
      );
    },
  });
  await Promise.all(probes);
  return {
    rate,
    seconds,
    samples: lags.length,
    p50Ms: percentile(lags, 50),
    p99Ms: percentile(lags, 99),
    maxMs: percentile(lags, 100),
  };
}

export interface AntiEntropyResult {
  readonly keys: number;
  /** Process start of a new node to "ready with every key". */
  readonly joinSeconds: number;
  readonly bootstrap: SyncRound;
  /** A round between two nodes whose data differs in `diffKeys` keys. */
  readonly diffKeys: number;
  readonly repair: SyncRound;
  /** A round between two nodes that agree: digests only. */
  readonly idle: SyncRound;
}

/**
 * 100,000 keys on a 3-node mesh: a fourth node joins and bootstraps; then `diffKeys` keys
 * written to that node alone (bypassing replication) are repaired by the next rounds.
 */
export async function antiEntropy(nodes: readonly NodeProcess[], keys: number, diffKeys: number): Promise<AntiEntropyResult> {
  const hlc = Date.now() * 1024;
  await Promise.all(nodes.map((node) => loadDirect(node, { count: keys, prefix: 'ae', secret: SECRET, hlc })));
  const expected = (await (nodes[0] as NodeProcess).status()).availableRecords;
  const started = performance.now();
  const joiner = await NodeProcess.start('mesh-joiner', { ...MESH_ENV, MESH_NETWORK_URL: (nodes[0] as NodeProcess).url });
  try {
    await waitFor(async () => {
      const status = await joiner.status();
      return status.ready && status.availableRecords === expected;
    }, 60_000, 'the joining node ready with every key');
    const joinSeconds = (performance.now() - started) / 1000;
    const bootstrap = (await joiner.status()).mesh.bootstrap;
    if (bootstrap === undefined) throw new Error('the joining node reports no sync');
    const rounds = (await joiner.status()).mesh.syncRounds;
    // Idle: the next periodic round finds nothing to do.
    await waitFor(async () => (await joiner.status()).mesh.syncRounds > rounds, 10_000, 'an idle anti-entropy round');
    const idle = (await joiner.status()).mesh.lastSync as AntiEntropyResult['idle'];
    // The repair is the first round, started by any node, that moves the keys written to
    // the joiner alone: the joiner may push them, or a peer may pull them first.
    const everyNode = [...nodes, joiner];
    const roundsBefore = await Promise.all(everyNode.map(async (node) => (await node.status()).mesh.syncRounds));
    await loadDirect(joiner, { count: diffKeys, prefix: 'diff', secret: SECRET });
    let repair: AntiEntropyResult['repair'] | undefined;
    await waitFor(async () => {
      const statuses = await Promise.all(everyNode.map((node) => node.status()));
      statuses.forEach((status, i) => {
        const sync = status.mesh.lastSync;
        if (repair === undefined && sync !== undefined && status.mesh.syncRounds > (roundsBefore[i] ?? 0) && (sync.pushed > 0 || sync.pulled > 0)) repair = sync;
      });
      return repair !== undefined;
    }, 15_000, 'the round that repairs the differing keys');
    return { keys, joinSeconds, bootstrap, diffKeys, repair: repair as AntiEntropyResult['repair'], idle };
  } finally {
    await joiner.stop();
  }
}
