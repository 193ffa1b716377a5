import * as http from 'node:http';
import * as net from 'node:net';
import { Balancer, type BalancerDependencies } from '../../src/balancer';
import { loadConfig } from '../../src/config';
import type { Discovery } from '../../src/discovery/discovery';
import { silentLogger } from '@meshkv/common';

/** An HTTP server on 127.0.0.1 that answers with its own name. */
export async function startBackend(name: string): Promise<{ port: number; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (asked of the OS, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A balancer on 127.0.0.1 with static backends (or the discovery given), started. */
export async function startBalancer(env: Record<string, string>, discovery?: Discovery, deps: Partial<BalancerDependencies> = {}): Promise<Balancer> {
  const config = loadConfig({ SERVICE_PORT: '0', BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0', SUMMARY_INTERVAL_MS: '0', HOSTNAME: '', ...env });
  const balancer = new Balancer(config, { logger: silentLogger(), discovery, ...deps });
  await balancer.start();
  return balancer;
}

/** One HTTP GET through `port` on a fresh connection; the body text. */
export function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export { waitFor } from '@meshkv/common';

/**
 * A port on 127.0.0.1 where connects hang: a listener (in a python3 child, which never
 * accepts) whose accept queue is full, so the kernel drops further SYNs. Stop with `close`.
 */
export async function hangingPort(): Promise<{ port: number; close(): void }> {
  const { spawn } = await import('node:child_process');
  const child = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('error', reject);
  });
  // Fill the accept queue: connects complete until it is full; the next one hangs.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    port,
    close: () => {
      fillers.forEach((s) => s.destroy());
      child.kill('SIGKILL');
    },
  };
}
