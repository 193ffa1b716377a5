'use strict';
// `npm start`: runs a 3-node MeshKV mesh on 127.0.0.1 from the built packages, prints
// where it answers and a curl line to try, and stops everything on Ctrl-C. Nodes 2 and 3
// use node 1 as their seed; the ping exchange makes the mesh full.
const path = require('node:path');
const { concurrently } = require('concurrently');

const root = path.resolve(__dirname, '..');
const basePort = Number(process.env.MESHKV_START_PORT || 8100);
const nodes = [1, 2, 3].map((n) => ({ name: `node-${n}`, port: basePort + n - 1 }));
const seed = `http://127.0.0.1:${basePort}`;

const { commands, result } = concurrently(
  nodes.map((node) => ({
    name: node.name,
    command: `node ${JSON.stringify(path.join(root, 'packages', 'database', 'dist', 'index.js'))}`,
    env: {
      PORT: String(node.port),
      BIND_ADDRESS: '127.0.0.1',
      HOSTNAME: '127.0.0.1',
      ADVERTISE_URL: `http://127.0.0.1:${node.port}`,
      MESH_NETWORK_URL: node.port === basePort ? '' : seed,
      // Local only: every port is on 127.0.0.1; set your own secret for anything else.
      MESH_SECRET: process.env.MESH_SECRET || 'local-development-secret',
      NODE_ID: node.name,
      LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    },
  })),
  { prefix: 'name', killOthersOn: ['failure'], cwd: root },
);

async function healthy(url, deadline) {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthcheck`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

(async () => {
  const deadline = Date.now() + 15000;
  for (const node of nodes) {
    const url = `http://127.0.0.1:${node.port}`;
    if (!(await healthy(url, deadline))) {
      process.stderr.write(`\n${node.name} did not become healthy at ${url} within 15 s (is the port in use? set MESHKV_START_PORT)\n`);
      commands.forEach((c) => c.kill());
      process.exitCode = 1;
      return;
    }
  }
  const url = `http://127.0.0.1:${nodes[0].port}`;
  const last = `http://127.0.0.1:${nodes[nodes.length - 1].port}`;
  process.stdout.write(
    [
      '',
      'MeshKV is running:',
      ...nodes.map((n) => `  ${n.name}  http://127.0.0.1:${n.port}`),
      '',
      'Try:',
      `  curl '${url}/set?k=hello&v=world&w=all' && curl '${last}/get?k=hello'`,
      `  curl '${last}/status'`,
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
})();

result.then(
  () => process.exit(0),
  () => process.exit(process.exitCode || 1),
);
