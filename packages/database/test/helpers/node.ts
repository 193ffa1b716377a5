import { DatabaseNode } from '../../src/node';
import { loadConfig } from '../../src/config';
import { silentLogger } from '@meshkv/common';
import { request, type Reply } from './http';

export interface TestNode {
  readonly node: DatabaseNode;
  readonly url: string;
  readonly port: number;
  get(target: string, method?: string): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * A real node listening on 127.0.0.1 on a free port, configured as from `env`, its wall
 * clock `clockOffsetMs` ahead (an object: the offset as it is at each reading, so a test
 * can move the node's time forward).
 */
export async function startTestNode(env: Record<string, string> = {}, clockOffsetMs: number | { offsetMs: number } = 0): Promise<TestNode> {
  const config = loadConfig({ PORT: '0', BIND_ADDRESS: '127.0.0.1', HOSTNAME: 'test-node', SHUTDOWN_TIMEOUT_MS: '2000', ...env });
  const offset = clockOffsetMs;
  const now = typeof offset === 'object' ? (): number => Date.now() + offset.offsetMs : offset === 0 ? undefined : (): number => Date.now() + offset;
  const node = new DatabaseNode(config, { logger: silentLogger(), ...(now === undefined ? {} : { now }) });
  const address = await node.listen();
  const url = node.url;
  return {
    node,
    url,
    port: address.port,
    get: (target, method) => request(url, target, method === undefined ? {} : { method }),
    close: () => node.shutdown(),
  };
}
