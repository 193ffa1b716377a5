import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, pinned, startServer, type ServerProcess } from './processes';

/** The plain `socket.pipe` proxy, the calibration point (built beside this file). */
const PIPE_PROXY_ENTRY = path.join(__dirname, 'pipe-proxy.js');

/** The built balancer, found through the workspace link. */
const BALANCER_ENTRY = path.join(path.dirname(require.resolve('@meshkv/load-balancer/package.json')), 'dist', 'main.js');

/** The MeshKV balancer in front of one backend, static discovery, on `cpus`. */
export async function startBalancerProcess(backendPort: number, cpus: string | undefined): Promise<ServerProcess> {
  const port = await freePort();
  return startServer('MeshKV balancer', pinned(cpus, process.execPath, [BALANCER_ENTRY]), port, {
    SERVICE_PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    BACKENDS: `127.0.0.1:${backendPort}`,
    ADMIN_PORT: '0',
    LOG_LEVEL: 'warn',
    SUMMARY_INTERVAL_MS: '0',
  });
}

/** HAProxy in TCP mode, one thread, in front of one backend, on `cpus`. */
export async function startHaproxy(backendPort: number, cpus: string | undefined): Promise<ServerProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-haproxy-'));
  const config = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    config,
    [
      'global',
      '  maxconn 4096',
      '  nbthread 1',
      'defaults',
      '  mode tcp',
      '  timeout connect 1s',
      '  timeout client 300s',
      '  timeout server 300s',
      'frontend service',
      `  bind 127.0.0.1:${port}`,
      '  default_backend group',
      'backend group',
      '  balance roundrobin',
      `  server backend1 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  const server = await startServer('HAProxy', pinned(cpus, 'haproxy', ['-f', config, '-db']), port);
  return {
    ...server,
    stop: async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The plain `socket.pipe` proxy in front of one backend, on `cpus`. */
export async function startPipeProxy(backendPort: number, cpus: string | undefined): Promise<ServerProcess> {
  const port = await freePort();
  return startServer('socket.pipe proxy', pinned(cpus, process.execPath, [PIPE_PROXY_ENTRY, String(port), String(backendPort)]), port);
}
