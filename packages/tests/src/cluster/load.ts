import { signMeshRequest } from '@meshkv/common';
import { recordCodec } from '@meshkv/database';
import type { NodeProcess } from './node-process';

export interface DirectLoad {
  readonly count: number;
  readonly prefix: string;
  /** The mesh secret of the node, if any. */
  readonly secret: string | undefined;
  /** HLC of the first record; nodes loaded with the same base hold identical versions. */
  readonly hlc?: number;
}

/**
 * Puts records straight into one node through `/_mesh/replicate`, in batches of 5,000:
 * fast set-up for scenarios and benchmarks. The node does not forward them (nothing a
 * peer sends is echoed), so each node to be loaded is loaded on its own.
 */
export async function loadDirect(node: NodeProcess, load: DirectLoad): Promise<void> {
  const hlc = load.hlc ?? Date.now() * 1024;
  for (let start = 0; start < load.count; start += 5000) {
    const records = [];
    for (let i = start; i < Math.min(load.count, start + 5000); i++) {
      const key = `${load.prefix}-${String(i).padStart(7, '0')}`;
      records.push(recordCodec.toWire(key, { value: `value-${i}-${'x'.repeat(80)}`, hlc: hlc + i, nodeId: 'loader' }));
    }
    const body = JSON.stringify(recordCodec.replicateBody(records, null));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (load.secret !== undefined) headers.authorization = signMeshRequest(load.secret, { method: 'POST', path: '/_mesh/replicate', body });
    const res = await fetch(`${node.url}/_mesh/replicate`, { method: 'POST', headers, body });
    if (res.status !== 200) throw new Error(`loading ${node.name}: HTTP ${res.status} ${await res.text()}`);
  }
}
