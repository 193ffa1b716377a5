import * as http from 'node:http';

/**
 * The reference: the least a node:http server can do — answer every request with a
 * constant JSON body and the same headers MeshKV sends. Started as its own process:
 * `node bare-server.js PORT BODY`.
 */
const port = Number(process.argv[2] ?? '0');
const body = process.argv[3] ?? '{"success":true}';
const headers = ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))];

const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: typeof address === 'object' && address ? address.port : port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
