import { startTestNode, type TestNode } from './node';

/** Timers short enough for tests; every one can be overridden. */
export const FAST_MESH: Record<string, string> = {
  ADVERTISE_URL: 'http://127.0.0.1:0',
  PING_INTERVAL_MS: '40',
  PING_TIMEOUT_MS: '300',
  SUSPECT_AFTER_MS: '300',
  DOWN_AFTER_MS: '600',
  DOWN_PING_INTERVAL_MS: '100',
  FORGET_AFTER_MS: '60000',
  MESH_REQUEST_TIMEOUT_MS: '1000',
  REPLICATION_RETRY_MAX_MS: '100',
  AE_INTERVAL_MS: '200',
  WRITE_TIMEOUT_MS: '2000',
};

/** Starts `count` in-process nodes, each seeded with the previous one (a chain). */
export async function startChain(count: number, env: Record<string, string> = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const seed: Record<string, string> = i === 0 ? {} : { MESH_NETWORK_URL: (nodes[i - 1] as TestNode).url };
    nodes.push(await startTestNode({ ...FAST_MESH, ...seed, ...env }));
  }
  return nodes;
}

/** True when every node lists every other as alive. */
export function fullMesh(nodes: readonly TestNode[]): boolean {
  return nodes.every((t) => {
    const alive = new Set(t.node.mesh.membership.alive().map((peer) => peer.url));
    return nodes.every((other) => other === t || alive.has(other.url));
  });
}

/** Sorted [key, value] pairs of a node, for comparing nodes. */
export function contents(t: TestNode): [string, string][] {
  return [...t.node.store.liveEntries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
