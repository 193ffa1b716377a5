import * as net from 'node:net';

/**
 * The calibration point of the balancer benchmark: the plainest TCP proxy Node.js allows,
 * `socket.pipe` both ways, nothing else. Where it reaches HAProxy's throughput too, the
 * layout does not measure proxies at all. Started as its own process:
 * `node pipe-proxy.js PORT BACKEND_PORT`.
 */
const port = Number(process.argv[2] ?? '0');
const backendPort = Number(process.argv[3]);

const server = net.createServer((client) => {
  const upstream = net.connect(backendPort, '127.0.0.1');
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
