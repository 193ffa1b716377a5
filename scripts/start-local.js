'use strict';
// `npm start`: runs a 3-node MeshKV mesh and the load balancer in front of it on
// 127.0.0.1 from the built packages, prints where they answer and curl lines to try, and
// stops everything on Ctrl-C. Nodes 2 and 3 use node 1 as their seed; the ping exchange
// makes the mesh full. The balancer uses static discovery (BACKENDS): no Docker here.
const path = require('node:path');
const { concurrently } = require('concurrently');

const root = path.resolve(__dirname, '..');
const basePort = Number(process.env.MESHKV_START_PORT || 8100);
const nodes = [1, 2, 3].map((n) => ({ name: `node-${n}`, port: basePort + n - 1 }));
const seed = `http://127.0.0.1:${basePort}`;
const balancerPort = Number(process.env.MESHKV_BALANCER_PORT || 8080);
const adminPort = balancerPort + 1;

const { commands, result } = concurrently(
  [
    ...nodes.map((node) => ({
    name: node.name,
    command: `node ${JSON.stringify(path.join(root, 'packages', 'database', 'dist', 'main.js'))}`,
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
    {
      name: 'balancer',
      command: `node ${JSON.stringify(path.join(root, 'packages', 'load-balancer', 'dist', 'main.js'))}`,
      env: {
        SERVICE_PORT: String(balancerPort),
        BALANCER_BIND_ADDRESS: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        BACKENDS: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
        BALANCER_LOG_LEVEL: process.env.LOG_LEVEL || 'info',
      },
    },
  ],
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
  const endpoints = [...nodes, { name: 'balancer', port: balancerPort }];
  for (const node of endpoints) {
    const url = `http://127.0.0.1:${node.port}`;
    if (!(await healthy(url, deadline))) {
      process.stderr.write(`\n${node.name} did not become healthy at ${url} within 15 s (is the port in use? set MESHKV_START_PORT)\n`);
      commands.forEach((c) => c.kill());
      process.exitCode = 1;
      return;
    }
  }
  // Wait for the mesh to be whole (every node ready, seeing the two others) before saying so.
  while (Date.now() < deadline) {
    const statuses = await Promise.all(
      nodes.map((node) =>
        fetch(`http://127.0.0.1:${node.port}/status`)
          .then((res) => res.json())
          .catch(() => undefined),
      ),
    );
    const whole = statuses.every(
      (s) => s !== undefined && s.ready && s.peers.filter((p) => p.state === 'alive').length === nodes.length - 1,
    );
    if (whole) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const url = `http://127.0.0.1:${balancerPort}`;
  const last = `http://127.0.0.1:${nodes[nodes.length - 1].port}`;
  process.stdout.write(
    [
      '',
      'MeshKV is running:',
      `  balancer  http://127.0.0.1:${balancerPort}  (stats: http://127.0.0.1:${adminPort}/stats)`,
      ...nodes.map((n) => `  ${n.name}    http://127.0.0.1:${n.port}`),
      '',
      'Try (a write through the balancer, read back from node 3):',
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
