import { Pool } from 'undici';
import { NodeProcess } from '../../src/cluster/node-process';

export const SECRET = 'scenario-secret';

/** Timers for scenarios: a node is suspect after 0.5 s of silence and down after 1 s. */
export const SCENARIO_ENV: Record<string, string> = {
  MESH_SECRET: SECRET,
  PING_INTERVAL_MS: '100',
  PING_TIMEOUT_MS: '500',
  SUSPECT_AFTER_MS: '500',
  DOWN_AFTER_MS: '1000',
  DOWN_PING_INTERVAL_MS: '200',
  MESH_REQUEST_TIMEOUT_MS: '2000',
  REPLICATION_RETRY_MAX_MS: '200',
  AE_INTERVAL_MS: '1000',
  WRITE_TIMEOUT_MS: '3000',
};

export { waitFor } from '@meshkv/common';

/** Every node of `nodes` lists every other one as alive. */
export async function isFullMesh(nodes: readonly NodeProcess[]): Promise<boolean> {
  const statuses = await Promise.all(nodes.map((node) => node.status()));
  return statuses.every((status) =>
    nodes.every((other) => other.url === status.advertiseUrl || status.peers.some((p) => p.url === other.url && p.state === 'alive')),
  );
}

/** `/getAll` of a node, as a Map. */
export async function getAll(node: NodeProcess): Promise<Map<string, string>> {
  const res = await node.get('/getAll', 10_000);
  const pairs = JSON.parse(res.text) as { k: string; v: string }[];
  return new Map(pairs.map(({ k, v }) => [k, v]));
}

/** Keys whose values differ between two maps (either missing counts). */
export function divergent(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((key) => a.get(key) !== b.get(key));
}

/** True when every node holds exactly the same keys and values. */
export async function converged(nodes: readonly NodeProcess[]): Promise<boolean> {
  const all = await Promise.all(nodes.map(getAll));
  return all.every((contents) => divergent(contents, all[0] as Map<string, string>).length === 0);
}

/** Keep-alive HTTP clients, one pool per node URL, closed together. */
export class Clients {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connections = 16) {}

  /** GET a path; resolves with the status and body text. Rejects on a connection error. */
  async get(url: string, path: string, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
    let pool = this.pools.get(url);
    if (pool === undefined) {
      pool = new Pool(url, { connections: this.connections });
      this.pools.set(url, pool);
    }
    const res = await pool.request({ path, method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    this.pools.clear();
  }
}
