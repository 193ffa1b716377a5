'use strict';
// `npm start`: runs a 3-node MeshKV mesh and the load balancer in front of it on
// 127.0.0.1 from the built packages, prints where they answer and lines to try, and stops
// everything on Ctrl-C. Nodes 2 and 3 use node 1 as their seed; the ping exchange makes
// the mesh full. The balancer uses static discovery (BACKENDS): no Docker here.
//
// Before building it checks its settings and that every port is free (a second
// `npm start` says so at once); it prints "MeshKV is running" only once every process
// it started answers as itself (its node id), and never after one of them failed.
//
// MESHKV_TLS=true: HTTPS for clients and mutual TLS between the nodes, with certificates
// from a local CA made in certs/ (npm run certs) when none are there. ADMIN_KEY (in the
// environment or .env) makes the nodes require API keys, as anywhere else.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { concurrently } = require('concurrently');
const { Agent, fetch: undiciFetch } = require('undici');

const root = path.resolve(__dirname, '..');
const PORT_HINT = 'set MESHKV_START_PORT (the nodes take it and the next two) and MESHKV_BALANCER_PORT (the balancer; its stats take the next)';

function fail(message) {
  process.stderr.write(`\nnpm start: ${message}\n`);
  process.exit(1);
}

/** A port from the environment, or `fallback`; the variable is named when it is not one. */
function portSetting(name, fallback, room) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port + room > 65535) {
    fail(`${name} must be a port number from 1 to ${65535 - room} (it and the next ${room} are used); got "${text}"`);
  }
  return port;
}

/** Resolves when nothing listens on 127.0.0.1:port (we could listen there), else rejects. */
function free(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** fetch, trusting the local CA over TLS, with ADMIN_KEY when the nodes require keys. */
let get = (url) => fetch(url);
function useTls(caFile) {
  const dispatcher = new Agent({ connect: { ca: fs.readFileSync(caFile) } });
  get = (url) => undiciFetch(url, { dispatcher, headers: adminHeaders() });
}
function adminHeaders() {
  return process.env.ADMIN_KEY ? { authorization: `Bearer ${process.env.ADMIN_KEY}` } : {};
}

async function healthy(url, deadline, failed) {
  while (Date.now() < deadline && !failed()) {
    try {
      const res = await get(`${url}/healthcheck`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function main() {
  const basePort = portSetting('MESHKV_START_PORT', 8100, 2);
  const balancerPort = portSetting('MESHKV_BALANCER_PORT', 8080, 1);
  const adminPort = balancerPort + 1;
  const nodes = [1, 2, 3].map((n) => ({ name: `node-${n}`, port: basePort + n - 1 }));
  const ports = [...nodes.map((node) => [node.port, node.name]), [balancerPort, 'the balancer'], [adminPort, "the balancer's stats"]];
  const taken = new Set();
  for (const [port, what] of ports) {
    if (taken.has(port)) fail(`port ${port} is given to two processes (${what}): ${PORT_HINT}`);
    taken.add(port);
    try {
      await free(port);
    } catch (error) {
      fail(`port ${port} (for ${what}) is in use (${error.code || error.message}): is MeshKV already running? Stop it, or ${PORT_HINT}`);
    }
  }
  // Local only: every port is on 127.0.0.1; set your own secret for anything else.
  const secret = process.env.MESH_SECRET || 'local-development-secret';
  const tlsSetting = (process.env.MESHKV_TLS || 'false').toLowerCase();
  if (!['true', 'false'].includes(tlsSetting)) fail(`MESHKV_TLS must be true or false (got "${process.env.MESHKV_TLS}")`);
  const secure = tlsSetting === 'true';
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  // How every node is started (`node <flags> main.js`), as the Dockerfile does: built just now.
  const { NODE_FLAGS } = require(path.join(root, 'packages', 'database', 'dist', 'node-flags.js'));

  const certs = path.join(root, 'certs');
  let tls = {};
  if (secure) {
    if (!fs.existsSync(path.join(certs, 'mesh-node.pem'))) execFileSync(process.execPath, [path.join(root, 'packages', 'tests', 'dist', 'certs', 'index.js'), certs], { cwd: root, stdio: 'inherit' });
    const file = (name) => path.join(certs, name);
    tls = {
      TLS_CERT_FILE: file('node.pem'),
      TLS_KEY_FILE: file('node-key.pem'),
      MESH_TLS_CERT_FILE: file('mesh-node.pem'),
      MESH_TLS_KEY_FILE: file('mesh-node-key.pem'),
      MESH_TLS_CA_FILE: file('mesh-ca.pem'),
    };
    useTls(file('ca.pem'));
  } else if (process.env.ADMIN_KEY) {
    get = (url) => fetch(url, { headers: adminHeaders() });
  }
  const scheme = secure ? 'https' : 'http';
  const seed = `${scheme}://127.0.0.1:${basePort}`;
  const { commands, result } = concurrently(
    [
      ...nodes.map((node) => ({
        name: node.name,
        command: `node ${NODE_FLAGS.join(' ')} ${JSON.stringify(path.join(root, 'packages', 'database', 'dist', 'main.js'))}`,
        env: {
          PORT: String(node.port),
          BIND_ADDRESS: '127.0.0.1',
          HOSTNAME: '127.0.0.1',
          ADVERTISE_URL: `${scheme}://127.0.0.1:${node.port}`,
          MESH_NETWORK_URL: node.port === basePort ? '' : seed,
          MESH_SECRET: secret,
          NODE_ID: node.name,
          // The cluster page (/ui) shows the balancer's backends too.
          UI_BALANCER_URL: `http://127.0.0.1:${adminPort}`,
          ...(process.env.ADMIN_TOKEN ? { UI_BALANCER_TOKEN: process.env.ADMIN_TOKEN } : {}),
          LOG_LEVEL: process.env.LOG_LEVEL || 'info',
          LOG_FORMAT: process.env.LOG_FORMAT || 'pretty',
          ...tls,
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
          LOG_FORMAT: process.env.LOG_FORMAT || 'pretty',
        },
      },
    ],
    { prefix: 'name', killOthersOn: ['failure'], cwd: root },
  );
  let failure;
  for (const command of commands) {
    command.close.subscribe((event) => {
      if (failure === undefined) failure = `${command.name} exited (code ${event.exitCode})`;
    });
  }
  result.then(
    () => process.exit(0),
    () => process.exit(1),
  );
  const stop = (message) => {
    process.stderr.write(`\nnpm start: ${message}\n`);
    commands.forEach((command) => command.kill());
    process.exitCode = 1;
  };

  const deadline = Date.now() + 15000;
  for (const endpoint of [...nodes, { name: 'balancer', port: balancerPort }]) {
    const url = `${scheme}://127.0.0.1:${endpoint.port}`;
    if (!(await healthy(url, deadline, () => failure !== undefined))) {
      return stop(failure !== undefined ? `${failure}; see its lines above` : `${endpoint.name} did not answer at ${url} within 15 s (${PORT_HINT})`);
    }
  }
  // The mesh is whole once every node answers as itself, ready, seeing the two others.
  let whole = false;
  while (!whole && Date.now() < deadline && failure === undefined) {
    const statuses = await Promise.all(
      nodes.map((node) =>
        get(`${scheme}://127.0.0.1:${node.port}/status`)
          .then((res) => res.json())
          .catch(() => undefined),
      ),
    );
    whole = statuses.every(
      (s, i) => s !== undefined && s.nodeId === nodes[i].name && s.ready && s.peers.filter((p) => p.state === 'alive').length === nodes.length - 1,
    );
    if (!whole) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (failure !== undefined) return stop(`${failure}; see its lines above`);
  if (!whole) return stop('the three nodes did not form a mesh within 15 s; see their lines above');
  const url = `${scheme}://127.0.0.1:${balancerPort}`;
  const last = `${scheme}://127.0.0.1:${nodes[nodes.length - 1].port}`;
  const curl = `curl${secure ? ` --cacert ${path.relative(root, path.join(certs, 'ca.pem'))}` : ''}${process.env.ADMIN_KEY ? ' -H "Authorization: Bearer $ADMIN_KEY"' : ''}`;
  const tlsLine = secure ? Object.entries(tls).map(([name, value]) => `${name}=${path.relative(root, value)}`).join(' ') + ' ' : '';
  const next = basePort + nodes.length;
  process.stdout.write(
    [
      '',
      'MeshKV is running:',
      `  balancer  ${url}  (stats: http://127.0.0.1:${adminPort}/stats)`,
      ...nodes.map((n) => `  ${n.name}    ${scheme}://127.0.0.1:${n.port}`),
      `  mesh secret: ${secret}${process.env.MESH_SECRET ? ' (MESH_SECRET)' : ' (the local default; MESH_SECRET sets another)'}`,
      ...(secure ? [`  TLS: HTTPS for clients, mutual TLS between the nodes; local CA in ${path.relative(root, certs)}/ (MESHKV_TLS=true)`] : []),
      ...(process.env.ADMIN_KEY ? ['  API keys required (ADMIN_KEY)'] : []),
      `  cluster page: ${scheme}://127.0.0.1:${nodes[0].port}/ui   metrics: ${scheme}://127.0.0.1:${nodes[0].port}/metrics`,
      '',
      'Try (a write through the balancer, read back from node 3):',
      `  ${curl} '${url}/set?k=hello&v=world&w=all' && ${curl} '${last}/get?k=hello'`,
      `  ${curl} '${last}/status'`,
      '',
      'Add a fourth node to this mesh (another terminal):',
      `  ${tlsLine}MESH_SECRET=${secret} MESH_NETWORK_URL=${seed} PORT=${next} BIND_ADDRESS=127.0.0.1 ADVERTISE_URL=${scheme}://127.0.0.1:${next} node ${NODE_FLAGS.join(' ')} packages/database/dist/main.js`,
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  return undefined;
}

main().catch((error) => fail(error.message));
