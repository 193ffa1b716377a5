import { silentLogger } from '@meshkv/common';
import { HybridClock } from '../../src/clock/hlc';
import { loadConfig, type MeshConfig, type WriteCount } from '../../src/config';
import { MemoryNetwork } from '../../src/mesh/memory-network';
import { Mesh } from '../../src/mesh/mesh';
import { MeshService } from '../../src/mesh/service';
import { MemoryAdapter } from '../../src/storage/memory';
import { Store } from '../../src/store/store';
import { TombstonePurge } from '../../src/store/tombstone-purge';
import { FakeScheduler } from './fake-scheduler';

/** Mesh timers of the in-memory cluster (ms of fake time). */
export const SIM_MESH: Record<string, string> = {
  PING_INTERVAL_MS: '100',
  PING_TIMEOUT_MS: '100',
  SUSPECT_AFTER_MS: '300',
  DOWN_AFTER_MS: '600',
  DOWN_PING_INTERVAL_MS: '200',
  FORGET_AFTER_MS: '3600000',
  MESH_REQUEST_TIMEOUT_MS: '1000',
  REPLICATION_DELAY_MS: '2',
  REPLICATION_RETRY_MAX_MS: '200',
  AE_INTERVAL_MS: '500',
  WRITE_TIMEOUT_MS: '2000',
};

/** One node of the in-memory cluster: a store and a mesh, no HTTP. */
export class SimNode {
  readonly store: Store;
  readonly mesh: Mesh;
  readonly purge: TombstonePurge;

  constructor(
    readonly url: string,
    readonly nodeId: string,
    config: MeshConfig,
    network: MemoryNetwork,
    scheduler: FakeScheduler,
    /** ms this node's wall clock is ahead of the others (negative: behind). */
    clockOffsetMs = 0,
  ) {
    const wallClock = (): number => scheduler.now() + clockOffsetMs;
    this.store = new Store(new MemoryAdapter(), new HybridClock(wallClock), nodeId, {
      maxClockDriftMs: config.maxClockDriftMs,
      tombstoneTtlMs: config.tombstoneTtlMs,
      now: wallClock,
    });
    // The node's own view of time: the shared fake clock, off by its offset.
    const timers = { now: wallClock, after: scheduler.after.bind(scheduler), every: scheduler.every.bind(scheduler) };
    this.mesh = new Mesh(config, this.store, { nodeId, incarnation: wallClock(), url: () => url }, { transport: network.transportFor(url), scheduler: timers, logger: silentLogger() });
    network.attach(url, new MeshService(this.mesh, this.store));
    this.purge = new TombstonePurge(this.store, config.tombstoneTtlMs, timers, silentLogger(), () => this.mesh.purgeHorizon);
  }

  start(): void {
    this.mesh.start();
    this.purge.start();
  }

  async stop(): Promise<void> {
    this.purge.stop();
    await this.mesh.stop();
  }

  /** Stops without leaving the mesh and drops off the network, as a killed process does. */
  async crash(network: MemoryNetwork): Promise<void> {
    network.detach(this.url);
    this.purge.stop();
    await this.mesh.stop({ leave: false });
  }

  /** A client's /set on this node (w=1). */
  set(key: string, value: string): void {
    void this.mesh.replicateWrite(key, this.store.set(key, value), { w: 1, timeoutMs: 1000 });
  }

  /** A client's /set with a write concern: settles as the client's answer would. */
  setWith(key: string, value: string, w: WriteCount, timeoutMs = 1000): Promise<void> {
    return this.mesh.replicateWrite(key, this.store.set(key, value), { w, timeoutMs }) ?? Promise.resolve();
  }

  /** A client's /rm on this node (w=1). */
  rm(key: string): void {
    const tombstone = this.store.remove(key);
    if (tombstone !== undefined) void this.mesh.replicateWrite(key, tombstone, { w: 1, timeoutMs: 1000 });
  }

  /** Every live key and value, sorted, for comparing nodes. */
  contents(): [string, string][] {
    return [...this.store.liveEntries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** URLs of the peers this node holds alive. */
  alive(): string[] {
    return this.mesh.membership.alive().map((peer) => peer.url);
  }
}

/** `count` nodes on one in-memory network and one fake clock; node i seeds with node i-1 (a chain). */
export function startCluster(count: number, env: Record<string, string> = {}, clockOffsetsMs: readonly number[] = []): { nodes: SimNode[]; network: MemoryNetwork; scheduler: FakeScheduler; restart: (index: number, clockOffsetMs: number) => Promise<SimNode>; add: (url: string, nodeId: string) => SimNode; stop: () => Promise<void> } {
  const scheduler = new FakeScheduler();
  const network = new MemoryNetwork();
  const nodes: SimNode[] = [];
  for (let i = 0; i < count; i++) {
    const seed = i === 0 ? '' : `http://node-${i - 1}:8100`;
    const config = loadConfig({ ...SIM_MESH, MESH_NETWORK_URL: seed, MESH_SECRET: 'sim', HOSTNAME: `node-${i}`, ...env }).mesh;
    nodes.push(new SimNode(`http://node-${i}:8100`, `n${i}`, config, network, scheduler, clockOffsetsMs[i] ?? 0));
  }
  for (const node of nodes) node.start();
  const running: SimNode[] = [];
  /** Node `index` is killed and started again with the same URL and id, its wall clock off by `clockOffsetMs`. */
  const restart = async (index: number, clockOffsetMs: number): Promise<SimNode> => {
    const old = nodes[index] as SimNode;
    await old.crash(network);
    const config = loadConfig({ ...SIM_MESH, MESH_NETWORK_URL: `http://node-${index === 0 ? 1 : 0}:8100`, MESH_SECRET: 'sim', HOSTNAME: `node-${index}`, ...env }).mesh;
    const node = new SimNode(old.url, old.nodeId, config, network, scheduler, clockOffsetMs);
    nodes[index] = node;
    node.start();
    return node;
  };
  /** A node more on the network, seeded with node 0 (`nodeId` may be another node's, to test duplicates). */
  const add = (url: string, nodeId: string): SimNode => {
    const config = loadConfig({ ...SIM_MESH, MESH_NETWORK_URL: 'http://node-0:8100', MESH_SECRET: 'sim', HOSTNAME: 'extra', ...env }).mesh;
    const node = new SimNode(url, nodeId, config, network, scheduler);
    running.push(node);
    node.start();
    return node;
  };
  return { nodes, network, scheduler, restart, add, stop: async () => void (await Promise.all([...nodes, ...running].map((node) => node.stop()))) };
}

/** True when every node holds every other alive. */
export function fullMesh(nodes: readonly SimNode[]): boolean {
  return nodes.every((node) => {
    const alive = new Set(node.alive());
    return nodes.every((other) => other === node || alive.has(other.url));
  });
}

/** True when every node holds the same live keys and values, and the same digests. */
export function converged(nodes: readonly SimNode[]): boolean {
  const first = nodes[0] as SimNode;
  const contents = JSON.stringify(first.contents());
  const digests = first.store.digests.encode();
  return nodes.every((node) => JSON.stringify(node.contents()) === contents && node.store.digests.encode().equals(digests));
}
