import type { NkvdNode } from '@meshkv/client';
import type { Membership, NodeInfo } from './membership';

/** `host:port` or `[v6]:port` in the nkvd ping form. */
export const NKVD_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/**
 * The nkvd form of the ping, `GET /ping?nodes=host:port|…`: the hosts named become peers
 * to ping (as any gossip does), and the answer lists this node and every node it knows.
 */
export function nkvdPing(membership: Membership, self: NodeInfo, hosts: readonly string[]): { nodes: NkvdNode[] } {
  membership.hear(hosts.map((host) => ({ url: `http://${host}` })));
  const known = [{ url: self.url, nodeId: self.nodeId as string | undefined, state: 'alive' }, ...membership.list()];
  return {
    nodes: known.map((node) => {
      const parsed = new URL(node.url);
      return {
        host: parsed.hostname,
        port: Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
        isDown: node.state === 'down',
        nodeId: node.nodeId,
        state: node.state,
        url: node.url,
      };
    }),
  };
}
