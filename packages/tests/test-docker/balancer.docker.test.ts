import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort } from '../src/bench/processes';
import { daemonStartedHere, docker, ensureNodeImage, startDaemon, stopDaemon } from '../src/docker/engine';
import { needDocker } from './hooks';

/**
 * The balancer against a real Docker engine: containers of a compose-labelled group come
 * and go, and clients never notice. The balancer runs on this machine, following the
 * engine through its socket; the backends are containers of the machine's own Node.js
 * image running a server that answers with its container's host name.
 */

const BALANCER_ENTRY = path.join(path.dirname(require.resolve('@meshkv/load-balancer/package.json')), 'dist', 'main.js');
const RUN = Math.random().toString(36).slice(2, 8);
const GROUP = `lbtest-${RUN}`;
const PROJECT = `meshkv-lbtest-${RUN}`;
const NETWORK = `meshkv-lbtest-${RUN}`;
const SERVER = "require('http').createServer((q,s)=>s.end(require('os').hostname())).listen(8100)";

interface Stats {
  backends: { name: string; state: string }[];
  discovery: { connected: boolean; lists: number };
}

describe('load balancer with a real Docker engine', function () {
  this.timeout(180_000);
  let image: string;
  let balancer: ChildProcess | undefined;
  let port: number;
  let adminPort: number;
  let log = '';
  const containers: string[] = [];

  const run = (name: string, labels: Record<string, string> | undefined, extra: string[] = []): string => {
    const labelArgs = Object.entries(labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const id = docker(['run', '-d', '--init', '--name', `${NETWORK}-${name}`, '--hostname', name, '--network', NETWORK, ...labelArgs, ...extra, image, 'node', '-e', SERVER]);
    containers.push(id);
    return id;
  };
  const member = (name: string, extra: string[] = []): string =>
    run(name, { 'com.docker.compose.service': GROUP, 'com.docker.compose.project': PROJECT }, extra);

  const stats = (): Promise<Stats> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: adminPort, path: '/stats', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as Stats));
        })
        .on('error', reject);
    });
  const upNames = async (): Promise<string[]> =>
    (await stats()).backends
      .filter((b) => b.state === 'up')
      .map((b) => b.name.replace(`${NETWORK}-`, ''))
      .sort();
  const hello = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  const waitFor = async (condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> => {
    const started = Date.now();
    for (;;) {
      if (await condition().catch(() => false)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${log.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  before(async function () {
    await needDocker(this);
    image = ensureNodeImage();
    docker(['network', 'create', NETWORK]);
    for (const name of ['db1', 'db2', 'db3']) member(name, ['--restart', 'always']);
    port = await freePort();
    adminPort = await freePort();
    balancer = spawn(process.execPath, [BALANCER_ENTRY], {
      env: {
        PATH: process.env.PATH ?? '',
        SERVICE_PORT: String(port),
        BIND_ADDRESS: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        GROUP_NAME: GROUP,
        GROUP_PORT: '8100',
        DOCKER_API_LOCATION: '/var/run/docker.sock',
        HEALTH_INTERVAL_MS: '300',
        HEALTH_TIMEOUT_MS: '300',
        CONNECT_TIMEOUT_MS: '500',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    balancer.stdout?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-100_000)));
    balancer.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-100_000)));
    await waitFor(async () => (await upNames()).length === 3, 30_000, 'the three containers in the pool');
  });

  after(() => {
    balancer?.kill('SIGTERM');
    for (const id of containers) {
      try {
        docker(['rm', '-f', id]);
      } catch {
        // already gone
      }
    }
    try {
      docker(['network', 'rm', NETWORK]);
    } catch {
      // never made
    }
  });

  it('sends connections round robin to all 3 containers', async () => {
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await hello());
    expect([...new Set(seen)].sort()).to.deep.equal(['db1', 'db2', 'db3']);
    expect(seen.slice(0, 3)).to.deep.equal(seen.slice(3, 6));
  });

  it('docker kill under a steady stream of new connections: no client error, and it leaves the pool', async () => {
    let stop = false;
    let ok = 0;
    const errors: string[] = [];
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          if ((await hello()).startsWith('db')) ok++;
          else errors.push('unexpected answer');
        } catch (error) {
          errors.push(String(error));
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await waitFor(() => Promise.resolve(ok >= 50), 10_000, 'traffic');
    docker(['kill', `${NETWORK}-db2`]);
    const gone = await waitFor(async () => !(await upNames()).includes('db2'), 5000, 'db2 to leave the pool');
    const okAtKill = ok;
    await waitFor(() => Promise.resolve(ok >= okAtKill + 200), 20_000, 'traffic after the kill');
    stop = true;
    await Promise.all(clients);
    process.stdout.write(`\n      db2 left the pool ${gone} ms after docker kill; ${ok} requests, ${errors.length} errors\n`);
    expect(errors, `balancer log:\n${log.slice(-4000)}`).to.deep.equal([]);
  });

  it('docker start: the container is back in the pool within 1 s', async () => {
    docker(['start', `${NETWORK}-db2`]);
    const back = await waitFor(async () => (await upNames()).includes('db2'), 1000, 'db2 back in the pool');
    process.stdout.write(`\n      db2 back ${back} ms after docker start returned\n`);
  });

  it('a new container of the group (as `compose run -d`) is in the pool within 1 s', async () => {
    member('run-1', ['--label', 'com.docker.compose.oneoff=True']);
    const joined = await waitFor(async () => (await upNames()).includes('run-1'), 1000, 'the new container in the pool');
    process.stdout.write(`\n      new container in the pool ${joined} ms after docker run returned\n`);
  });

  it('ignores containers of another service and containers without labels, without crashing', async () => {
    const lists = (await stats()).discovery.lists;
    run('other', { 'com.docker.compose.service': `${GROUP}-other`, 'com.docker.compose.project': PROJECT });
    run('plain', undefined);
    // Their start events trigger no list of their own; the next list (the 30 s resync, or
    // any group event) must still leave them out. Force one with a group event: a pause.
    docker(['pause', `${NETWORK}-run-1`]);
    await waitFor(async () => (await stats()).discovery.lists > lists && !(await upNames()).includes('run-1'), 5000, 'a list after the pause');
    docker(['unpause', `${NETWORK}-run-1`]);
    await waitFor(async () => (await upNames()).includes('run-1'), 5000, 'run-1 back after unpause');
    expect(await upNames()).to.deep.equal(['db1', 'db2', 'db3', 'run-1']);
    expect(balancer?.exitCode).to.equal(null);
  });

  it('reconnects after the Docker daemon restarts, and stays correct', async function () {
    if (!daemonStartedHere() && process.env.CI !== 'true') {
      process.stdout.write('\n      skipped: the daemon was not started by these tests, so they do not restart it\n');
      this.skip();
    }
    await stopDaemon();
    await waitFor(async () => !(await stats()).discovery.connected, 10_000, 'the balancer to notice');
    expect(balancer?.exitCode).to.equal(null);
    await startDaemon();
    // Containers with --restart always come back (maybe with new addresses); run-1 does not.
    await waitFor(
      async () => (await stats()).discovery.connected && JSON.stringify(await upNames()) === JSON.stringify(['db1', 'db2', 'db3']),
      60_000,
      'the balancer to follow the restarted daemon',
    );
    // The containers themselves restarted with the daemon (all at once: a real outage), so
    // wait for them to serve; then every one of them is reached through the balancer.
    await waitFor(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add(await hello());
        return JSON.stringify([...seen].sort()) === JSON.stringify(['db1', 'db2', 'db3']);
      },
      30_000,
      'all three containers to answer through the balancer',
    );
    expect(balancer?.exitCode).to.equal(null);
  });
});
