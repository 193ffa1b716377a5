import { expect } from 'chai';
import type { NodeStatus } from '@meshkv/client';
import { waitFor as waitUntil } from '@meshkv/common';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { freePort } from '../src/bench/processes';
import { ComposeProject, containerAddress } from '../src/docker/compose';
import { composeCommand, docker, ensureCompilerImage, ensureNodeImage } from '../src/docker/engine';
import { needDocker } from './hooks';

/**
 * The way users run MeshKV, end to end on a real engine: the repository's
 * docker-compose.yaml brought up under a project name of its own, then grown, loaded,
 * hurt and taken down, the way the README says. Every step is printed as it happens.
 */

const ROOT = path.resolve(path.dirname(require.resolve('@meshkv/tests/package.json')), '..', '..');
const PROJECT = `meshkv-e2e-${Math.random().toString(36).slice(2, 8)}`;
const SECRET = crypto.randomBytes(16).toString('hex');
const KEYS = 500;

interface BalancerStats {
  backends: { id: string; state: string }[];
}

/** A container started by `run` (one-off), not by `up` or `--scale`. */
function isOneOff(id: string): boolean {
  return docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.oneoff"}}', id]) === 'True';
}

const started = Date.now();
function step(text: string): void {
  process.stdout.write(`      [${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** Polls every 200 ms; a condition that throws (a container not up yet) is tried again, and the last problem named. */
const waitFor = (condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> =>
  waitUntil(condition, timeoutMs, what, { intervalMs: 200, retryErrors: true });

describe('Docker Compose end to end (docker-compose.yaml on a real engine)', function () {
  this.timeout(300_000);
  let compose: ComposeProject | undefined;
  let service = '';
  /** The balancer's admin port as Compose publishes it on 127.0.0.1 (ADMIN_EXPOSE_PORT). */
  let adminPort = 0;
  let failed = false;
  /** Volumes the project's containers used: `down -v` must remove them all. */
  const volumes = new Set<string>();
  const noteVolumes = (): void => {
    for (const id of (compose as ComposeProject).containers(undefined, true)) {
      for (const name of docker(['inspect', '-f', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', id]).split(' ').filter(Boolean)) volumes.add(name);
    }
  };

  const nodes = (): { id: string; url: string }[] =>
    (compose as ComposeProject).containers('database').map((id) => ({ id, url: `http://${containerAddress(id)}:8100` }));
  const status = (url: string): Promise<NodeStatus> => getJson<NodeStatus>(`${url}/status`);
  // Through the port Compose publishes on 127.0.0.1, as a user reads it.
  const balancerStats = (): Promise<BalancerStats> => getJson<BalancerStats>(`http://127.0.0.1:${adminPort}/stats`);
  /** Every running node sees every other one alive, and the balancer has them all up. */
  const meshOf = async (count: number): Promise<boolean> => {
    const all = nodes();
    if (all.length !== count) return false;
    for (const node of all) {
      const peers = (await status(node.url)).peers.filter((peer) => peer.state === 'alive');
      if (peers.length !== count - 1) return false;
    }
    const up = (await balancerStats()).backends.filter((backend) => backend.state === 'up').map((backend) => backend.id);
    return all.every((node) => up.includes(node.id));
  };
  /** A node's /getAll (an array of {k, v}) as an object. */
  const keysOn = async (url: string): Promise<Record<string, string>> =>
    Object.fromEntries((await getJson<{ k: string; v: string }[]>(`${url}/getAll`)).map(({ k, v }) => [k, v]));

  before(async function () {
    await needDocker(this);
    const found = composeCommand();
    if ('why' in found) throw new Error(`The Compose tests need Compose: ${found.why}`);
    const nodeImage = ensureNodeImage();
    const compilerImage = ensureCompilerImage();
    const port = await freePort();
    adminPort = await freePort();
    service = `http://127.0.0.1:${port}`;
    compose = new ComposeProject(found.command, ROOT, PROJECT, {
      NODE_IMAGE: nodeImage,
      COMPILER_IMAGE: compilerImage,
      EXPOSE_PORT: String(port),
      ADMIN_EXPOSE_PORT: String(adminPort),
      MESH_SECRET: SECRET,
      DATABASE_REPLICAS: '3',
      LOG_LEVEL: 'info',
    });
    step(`${found.command.join(' ')} -p ${PROJECT} build   (NODE_IMAGE=${nodeImage}, COMPILER_IMAGE=${compilerImage})`);
    compose.run(['build']);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(() => {
    if (compose === undefined) return;
    if (failed || process.env.MESHKV_E2E_LOGS === '1') {
      try {
        process.stdout.write(compose.run(['logs', '--no-color', '--tail', '40']).slice(-8000));
      } catch {
        // logs are a courtesy
      }
    }
    // Whatever happened above, nothing of the project stays.
    compose.run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  });

  it('up: 3 database nodes form one mesh behind the balancer, published on 127.0.0.1', async () => {
    const project = compose as ComposeProject;
    step('up -d with DATABASE_REPLICAS=3');
    project.run(['up', '-d']);
    const took = await waitFor(() => meshOf(3), 90_000, 'three nodes alive on each other and up in the balancer');
    step(`mesh formed ${took} ms after up returned: every node lists the 2 others alive; the balancer has 3 up`);
    // Seeds by DNS (dns://database:8100): each node's seeds are the other containers' own addresses, not the balancer.
    // (its own address, which answered as itself, is dropped after its first ping).
    const first = nodes()[0] as { url: string };
    const others = nodes().map((node) => node.url).filter((url) => url !== first.url).sort().join();
    const seedsOf = async (): Promise<string> => (await status(first.url)).join.seeds.map((seed) => seed.url).sort().join();
    await waitFor(async () => (await seedsOf()) === others, 10_000, "a node's seeds to be the other containers' addresses");
    step(`a node's seeds, from Docker's DNS: ${await seedsOf()}`);
    const answer = await fetch(`${service}/set?k=hello&v=world&w=all`);
    expect(answer.status).to.equal(200);
    for (const node of nodes()) expect((await keysOn(node.url)).hello).to.equal('world');
    step(`a write through ${service} with w=all is on all 3 nodes`);
    // The image carries the meshkv command on its PATH.
    const printed = project.run(['exec', '-T', 'database', 'meshkv', '--url', 'http://127.0.0.1:8100', '--json', 'cluster']);
    const cluster = JSON.parse(printed.split('\n').find((line) => line.startsWith('[')) ?? printed) as { state: string; ready: boolean | null }[];
    step(`docker compose exec database meshkv cluster: ${cluster.map((row) => row.state).join(', ')}`);
    expect(cluster.map((row) => [row.state, row.ready])).to.deep.equal([['self', true], ['alive', true], ['alive', true]]);
    // The image's balancer moves bytes with the native pump compiled on COMPILER_IMAGE.
    const lines = project.run(['logs', '--no-color', 'load-balancer']).split('\n');
    const listening = lines.map((line) => line.slice(line.indexOf('{'))).find((line) => line.includes('"msg":"listening"'));
    const pump = listening === undefined ? undefined : (JSON.parse(listening) as { pump?: string }).pump;
    step(`the balancer's byte pump: ${pump ?? 'no start line'}`);
    expect(pump).to.equal('native');
    // Metrics: the balancer's on its published admin port, and a node's; the page in the image.
    const balancerMetrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(balancerMetrics).to.include('meshkv_balancer_backends{state="up"} 3');
    const node = nodes()[0] as { url: string };
    expect(await (await fetch(`${node.url}/metrics`)).text()).to.match(/^meshkv_peers\{state="alive"\} 2$/m);
    expect((await fetch(`${service}/ui`)).status).to.equal(200);
    step('/metrics of the balancer (3 backends up) and of a node (2 peers alive); /ui through the balancer');
    // The monitoring profile is valid Compose; its images are not pulled here (no registry).
    const services = project.run(['--profile', 'monitoring', 'config', '--services']).split('\n').map((line) => line.trim());
    expect(services).to.include.members(['prometheus', 'grafana', 'database', 'load-balancer']);
    expect(project.containers('prometheus', true), '`up` without the profile starts none of it').to.deep.equal([]);
  });

  it('the integration suite passes through the balancer (`run tests`), with the cross-node checks', async () => {
    const project = compose as ComposeProject;
    const urls = nodes().map((node) => node.url).join(',');
    step(`run --rm tests   (SERVICE_URL=http://load-balancer:8080, MESH_URLS=${urls})`);
    const result = await project.start(['run', '--rm', '-T', '-e', `MESH_URLS=${urls}`, 'tests'], 180_000);
    const summary = result.output.split('\n').filter((line) => /passing|failing|pending/.test(line));
    step(`integration suite: ${summary.map((line) => line.trim()).join(', ')}`);
    expect(result.code, result.output.slice(-6000)).to.equal(0);
    expect(result.output).to.match(/\d+ passing/);
    expect(result.output).not.to.match(/\d+ pending/);
  });

  it('run -d database: a 4th node is alive on every node, in the pool, and holds every key', async () => {
    const project = compose as ComposeProject;
    step(`writing ${KEYS} keys through the balancer with w=all`);
    for (let i = 0; i < KEYS; i++) {
      const answer = await fetch(`${service}/set?k=e2e-${i}&v=value-${i}&w=all`);
      expect(answer.status, `set e2e-${i}`).to.equal(200);
    }
    step('run -d database');
    project.run(['run', '-d', 'database']);
    const took = await waitFor(() => meshOf(4), 60_000, 'the 4th node alive on every node and up in the balancer');
    step(`4 nodes: each lists the 3 others alive and the balancer has 4 up, ${took} ms after run returned`);
    const newest = nodes().find((node) => isOneOff(node.id));
    expect(newest, 'the one-off container').not.to.equal(undefined);
    const url = (newest as { url: string }).url;
    await waitFor(async () => (await status(url)).ready, 30_000, 'the new node to be ready');
    const held = await keysOn(url);
    const missing = Array.from({ length: KEYS }, (_, i) => i).filter((i) => held[`e2e-${i}`] !== `value-${i}`);
    step(`the new node holds ${KEYS - missing.length} of the ${KEYS} keys`);
    expect(missing).to.deep.equal([]);
  });

  it('docker kill of a node under a stress run: 0 errors; the node, started again, catches up', async () => {
    const project = compose as ComposeProject;
    const victim = nodes().find((node) => !isOneOff(node.id));
    expect(victim).not.to.equal(undefined);
    const { id } = victim as { id: string };
    step('run --rm tests npm run stress   (STRESS_DURATION=15, 50 keep-alive connections, set:50,get:50)');
    const stress = project.start(['run', '--rm', '-T', '-e', 'STRESS_DURATION=15', '-e', 'STRESS_KEYS=2000', 'tests', 'npm', 'run', 'stress'], 120_000);
    // Kill once the load is flowing: the balancer must already be carrying it.
    await waitFor(async () => {
      const stats = await balancerStats();
      return stats.backends.some((backend) => backend.state === 'up') && project.containers('tests').length > 0;
    }, 60_000, 'the stress run to start');
    await new Promise((resolve) => setTimeout(resolve, 4000)); // load for a while, as a user would see it
    step(`docker kill ${id.slice(0, 12)} (one of the original 3 nodes)`);
    docker(['kill', id]);
    const result = await stress;
    const report = result.output.split('\n').filter((line) => /requests|throughput|latency|errors|resent|result|:\s+\d/.test(line) && !/^stress: /.test(line));
    for (const line of report) step(`stress: ${line.trim()}`);
    expect(result.code, result.output.slice(-4000)).to.equal(0);
    expect(result.output).to.match(/errors\s+0 \(/);

    step(`docker start ${id.slice(0, 12)}`);
    docker(['start', id]);
    const back = await waitFor(() => meshOf(4), 60_000, 'the restarted node alive on every node and up in the balancer');
    // It missed the writes made while it was down: anti-entropy must give it what the others hold.
    const url = `http://${containerAddress(id)}:8100`;
    const reference = nodes().find((node) => node.id !== id) as { url: string };
    const caughtUp = await waitFor(
      async () => {
        const [mine, theirs] = await Promise.all([keysOn(url), keysOn(reference.url)]);
        return (await status(url)).ready && JSON.stringify(Object.entries(mine).sort()) === JSON.stringify(Object.entries(theirs).sort());
      },
      60_000,
      'the restarted node to hold exactly what the others hold',
    );
    const count = Object.keys(await keysOn(url)).length;
    step(`restarted node back in the mesh after ${back} ms, identical to its peers (${count} keys) ${caughtUp} ms later`);
  });

  it('docker compose restart: every node comes back with its records from its own slot of the volume', async () => {
    const project = compose as ComposeProject;
    const total = nodes().length;
    // `restart` restarts the service's containers; the one-off one of `run -d` is not one.
    const service = nodes().filter((node) => !isOneOff(node.id));
    const before = new Map<string, { records: number; incarnation: number }>();
    for (const node of service) {
      const seen = await status(node.url);
      before.set(node.id, { records: seen.availableRecords, incarnation: seen.incarnation });
    }
    noteVolumes();
    step(`restart database   (${before.size} service nodes holding ${[...before.values()].map((b) => b.records).join(', ')} records; STORAGE=lmdb, a slot each in the data volume)`);
    project.run(['restart', 'database']);
    await waitFor(() => meshOf(total), 60_000, 'the restarted nodes to form the mesh again');
    const opened = [];
    for (const node of service) {
      const after = await status(node.url);
      const was = before.get(node.id) as { records: number; incarnation: number };
      expect(after.storage).to.equal('lmdb');
      expect(after.incarnation, `${node.id.slice(0, 12)} restarted`).to.be.above(was.incarnation);
      expect(after.storageOpen.records, `records read from disk by ${node.id.slice(0, 12)}`).to.equal(was.records);
      opened.push(after.storageOpen);
    }
    step(`each of the ${opened.length} nodes opened its volume with the records it had (${opened.map((o) => `${o.records} in ${o.ms} ms`).join(', ')})`);
  });

  it('down, then up: the new nodes take the old data slots, with their records and node ids', async () => {
    const project = compose as ComposeProject;
    // Settled: every node holds as many records and tombstones as the others.
    await waitFor(async () => {
      if (!(await meshOf(nodes().length))) return false;
      const counts = await Promise.all(nodes().map(async (node) => { const seen = await status(node.url); return `${seen.availableRecords}/${seen.tombstones}`; }));
      return new Set(counts).size === 1;
    }, 60_000, 'the mesh settled before down');
    const before = new Map<string, { nodeId: string; records: number }>();
    for (const node of nodes()) {
      const seen = await status(node.url);
      before.set(seen.storageOpen.dataDir ?? '', { nodeId: seen.nodeId, records: seen.availableRecords + seen.tombstones });
    }
    noteVolumes();
    step(`down   (${before.size} nodes in ${[...before.keys()].join(', ')})`);
    project.run(['down', '--timeout', '10']);
    expect(project.containers(undefined, true), 'containers after down').to.deep.equal([]);
    expect(project.volumes(), 'the data volume is kept by down').to.have.length(1);
    step('up -d');
    project.run(['up', '-d']);
    await waitFor(() => meshOf(3), 90_000, 'three new nodes alive on each other and up in the balancer');
    const reopened: string[] = [];
    for (const node of nodes()) {
      const seen = await status(node.url);
      const slot = seen.storageOpen.dataDir ?? '';
      expect(before.has(slot), `${slot} was a slot before down`).to.equal(true);
      const was = before.get(slot) as { nodeId: string; records: number };
      expect(seen.nodeId, `the node id kept in ${slot}`).to.equal(was.nodeId);
      expect(seen.storageOpen.records + seen.storageOpen.tombstones, `records read from ${slot}`).to.equal(was.records);
      reopened.push(`${slot}: ${seen.storageOpen.records} records`);
    }
    expect(await getJson<string>(`${service}/get?k=e2e-7`)).to.equal('value-7');
    step(`the 3 new containers opened the old slots (${reopened.join(', ')}) with the node ids they had`);
  });

  it('down leaves no container, network or volume of the project behind', () => {
    const project = compose as ComposeProject;
    noteVolumes();
    step('down --volumes --remove-orphans');
    project.run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    expect(project.containers(undefined, true), 'containers').to.deep.equal([]);
    expect(project.networks(), 'networks').to.deep.equal([]);
    expect(project.volumes(), 'volumes').to.deep.equal([]);
    const left = [...volumes].filter((name) => spawnSync('docker', ['volume', 'inspect', name], { stdio: 'ignore' }).status === 0);
    expect(left, 'volumes of the containers').to.deep.equal([]);
    step(`nothing left: 0 containers, 0 networks, 0 of the ${volumes.size} volumes the nodes used`);
  });
});
