import { expect } from 'chai';
import type { NodeStatus } from '@meshkv/client';
import { waitFor as waitUntil } from '@meshkv/common';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { freePort } from '../src/bench/processes';
import { ComposeProject, startCommand } from '../src/docker/compose';
import { composeCommand, docker, ensureCompilerImage, ensureNodeImage } from '../src/docker/engine';
import { fetchInside, SwarmStack, swarmState } from '../src/docker/swarm';
import { needDocker } from './hooks';

/**
 * deploy/swarm/stack.yaml on a real swarm: this engine made a single-node swarm
 * (`docker swarm init`) when it is not in one, and left again at the end. The stack is
 * deployed under a name of its own with secrets of its own, then read, grown, shrunk and
 * hurt under load through the port the balancer publishes, and removed.
 */

const ROOT = path.resolve(path.dirname(require.resolve('@meshkv/tests/package.json')), '..', '..');
const NAME = `mkv${Math.random().toString(36).slice(2, 8)}`;
const ADMIN_KEY = crypto.randomBytes(24).toString('hex');
const KEYS = 300;

interface BalancerStats {
  backends: { id: string; name: string; address: string; state: string }[];
  discovery: { kind: string };
}

const started = Date.now();
function step(text: string): void {
  process.stdout.write(`      [${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}

/** Polls every 500 ms; a condition that throws (a task not up yet) is tried again, and the last problem named. */
const waitFor = (condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<number> =>
  waitUntil(async () => condition(), timeoutMs, what, { intervalMs: 500, retryErrors: true });

describe('Docker Swarm end to end (deploy/swarm/stack.yaml on a real single-node swarm)', function () {
  this.timeout(300_000);
  let stack: SwarmStack | undefined;
  let joinedHere = false;
  let failed = false;
  let service = '';
  const secrets: string[] = [];
  const volumes = new Set<string>();

  const s = (): SwarmStack => stack as SwarmStack;
  const balancer = (): string => {
    const [id] = s().containers('load-balancer');
    if (id === undefined) throw new Error('no balancer task running');
    return id;
  };
  const nodes = (): { id: string; url: string }[] => s().containers('database').map((id) => ({ id, url: `http://${s().address(id)}:8100` }));
  /** Task addresses are on the overlay network: read from inside the balancer's container. */
  const inside = <T>(pathname: string, urls: readonly string[]): T[] => fetchInside(balancer(), ADMIN_KEY, pathname, urls) as T[];
  const statuses = (): NodeStatus[] => {
    const answers = inside<NodeStatus & { error?: unknown }>('/status', nodes().map((node) => node.url));
    for (const answer of answers) if (answer.error !== undefined) throw new Error(`/status: ${JSON.stringify(answer.error)}`);
    return answers;
  };
  const balancerStats = (): BalancerStats => (inside<BalancerStats>('/stats', ['http://127.0.0.1:8081']))[0] as BalancerStats;
  /** `count` nodes, each with the others alive, and the balancer has exactly those up. */
  const meshOf = (count: number): boolean => {
    const all = nodes();
    if (all.length !== count) return false;
    if (!statuses().every((status) => status.ready && status.peers.filter((peer) => peer.state === 'alive').length === count - 1)) return false;
    const up = balancerStats().backends.filter((backend) => backend.state === 'up').map((backend) => backend.address);
    return up.length === count && all.every((node) => up.includes(node.url.slice('http://'.length)));
  };
  const noteVolumes = (): void => {
    for (const name of s().volumes()) volumes.add(name);
  };
  const call = (pathname: string): Promise<Response> =>
    fetch(`${service}${pathname}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: AbortSignal.timeout(10_000) });

  before(async function () {
    await needDocker(this);
    const found = composeCommand();
    if ('why' in found) throw new Error(`The Swarm tests build their images with Compose: ${found.why}`);
    const nodeImage = ensureNodeImage();
    const compilerImage = ensureCompilerImage();
    // The images the stack runs: built from this checkout as the Compose tests do (cached).
    const build = new ComposeProject(found.command, ROOT, `${NAME}-build`, { NODE_IMAGE: nodeImage, COMPILER_IMAGE: compilerImage, MESH_SECRET: 'unused-by-build' });
    step(`${found.command.join(' ')} build   (meshkv:local, meshkv-tests:local)`);
    build.run(['build']);
    if (swarmState() !== 'active') {
      step('docker swarm init --advertise-addr 127.0.0.1');
      docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
      joinedHere = true;
    }
    const port = await freePort();
    service = `http://127.0.0.1:${port}`;
    for (const [name, value] of [[`${NAME}_mesh_secret`, crypto.randomBytes(32).toString('hex')], [`${NAME}_admin_key`, ADMIN_KEY]] as const) {
      docker(['secret', 'create', name, '-'], value);
      secrets.push(name);
    }
    stack = new SwarmStack(path.join(ROOT, 'deploy', 'swarm', 'stack.yaml'), NAME, {
      EXPOSE_PORT: String(port),
      MESH_SECRET_NAME: `${NAME}_mesh_secret`,
      ADMIN_KEY_NAME: `${NAME}_admin_key`,
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    if (stack !== undefined) {
      if (failed || process.env.MESHKV_E2E_LOGS === '1') process.stdout.write(stack.logs().slice(-10_000));
      // Whatever happened above, nothing of the stack stays.
      spawnSync('docker', ['stack', 'rm', stack.name], { stdio: 'ignore' });
      await waitFor(() => s().allContainers().length === 0 && s().networks().length === 0, 60_000, 'the stack gone').catch(() => undefined);
      noteVolumes();
      for (const name of volumes) spawnSync('docker', ['volume', 'rm', '-f', name], { stdio: 'ignore' });
    }
    for (const name of secrets) spawnSync('docker', ['secret', 'rm', name], { stdio: 'ignore' });
    if (joinedHere) {
      step('docker swarm leave --force');
      docker(['swarm', 'leave', '--force']);
    }
  });

  it('deploy: 3 nodes with a volume each form one mesh through Swarm DNS; the balancer follows the tasks and publishes its port', async () => {
    step(`docker stack deploy -c deploy/swarm/stack.yaml ${NAME}   (balancer on ${service})`);
    s().deploy();
    const took = await waitFor(() => meshOf(3), 120_000, 'three nodes alive on each other and up in the balancer');
    step(`mesh formed ${took} ms after deploy returned: every node lists the 2 others alive, the balancer has 3 tasks up`);
    const stats = balancerStats();
    expect(stats.discovery.kind).to.equal('swarm');
    step(`the balancer's backends: ${stats.backends.map((backend) => `${backend.name}=${backend.address}`).join(', ')}`);
    // A volume per task slot, on this host.
    noteVolumes();
    expect(s().volumes().sort()).to.deep.equal([1, 2, 3].map((slot) => `${NAME}_data-${slot}`));
    const seeds = statuses().map((status) => status.join.seeds.map((seed) => seed.url).sort().join(' '));
    step(`seeds from tasks.database: ${seeds[0] ?? ''}`);
    expect((await call('/set?k=hello&v=swarm&w=all')).status).to.equal(200);
    for (const all of inside<{ k: string; v: string }[]>('/getAll', nodes().map((node) => node.url))) expect(all).to.deep.include({ k: 'hello', v: 'swarm' });
    expect((await fetch(`${service}/ready`)).status, '/ready is open').to.equal(200);
    expect((await fetch(`${service}/status`)).status, 'every other route takes the key from the secret').to.equal(401);
    step('a write through the published port with w=all is on all 3 nodes; /status without the key is 401');
  });

  it('the integration suite passes through the published port, with the cross-node checks', async () => {
    // The tests image on the stack's network (it is attachable) reaches the published port
    // through the host's side of docker_gwbridge, and the nodes at their task addresses.
    const gateway = docker(['network', 'inspect', 'docker_gwbridge', '-f', '{{(index .IPAM.Config 0).Gateway}}']);
    const url = `http://${gateway}:${new URL(service).port}`;
    const urls = nodes().map((node) => node.url).join(',');
    step(`docker run --network ${NAME}_mesh meshkv-tests:local   (SERVICE_URL=${url}, MESH_URLS=${urls})`);
    const result = await startCommand(
      ['docker', 'run', '--rm', '--network', `${NAME}_mesh`, '-e', `SERVICE_URL=${url}`, '-e', `SERVICE_KEY=${ADMIN_KEY}`, '-e', `MESH_URLS=${urls}`, 'meshkv-tests:local'],
      { cwd: ROOT, env: {} },
      180_000,
    );
    const summary = result.output.split('\n').filter((line) => /passing|failing|pending/.test(line));
    step(`integration suite: ${summary.map((line) => line.trim()).join(', ')}`);
    expect(result.code, result.output.slice(-6000)).to.equal(0);
    expect(result.output).to.match(/\d+ passing/);
    expect(result.output).not.to.match(/\d+ pending/);
  });

  it('docker service scale up: a 4th task joins the mesh and the balancer, and catches up; scale down: 3 again', async () => {
    step(`writing ${KEYS} keys through the balancer with w=all`);
    for (let i = 0; i < KEYS; i++) expect((await call(`/set?k=e2e-${i}&v=value-${i}&w=all`)).status, `set e2e-${i}`).to.equal(200);
    step(`docker service scale ${s().service('database')}=4`);
    s().scale('database', 4);
    const took = await waitFor(() => meshOf(4), 120_000, 'the 4th task alive on every node and up in the balancer');
    const newest = nodes().find((node) => s().slot(node.id) === 4) as { id: string; url: string };
    expect(newest, 'the task of slot 4').not.to.equal(undefined);
    const holds = (): number => {
      const [all] = inside<{ k: string; v: string }[]>('/getAll?prefix=e2e-', [newest.url]);
      return (all ?? []).filter(({ k, v }) => v === `value-${k.slice('e2e-'.length)}`).length;
    };
    const caughtUp = await waitFor(() => holds() === KEYS, 60_000, `the new task to hold the ${KEYS} keys`);
    step(`4 tasks in one mesh and up in the balancer ${took} ms after scale returned; the new one holds all ${KEYS} keys ${caughtUp} ms later`);
    noteVolumes();
    // A backup of a running task, into its own volume (docs/deploy.md).
    const copied = JSON.parse(docker(['exec', newest.id, 'node', 'packages/database/dist/backup.js', '/data/backup.mdb'])) as { records: number; bytes: number };
    expect(copied.records).to.be.at.least(KEYS);
    step(`docker exec <task 4> node packages/database/dist/backup.js /data/backup.mdb: ${copied.records} records, ${copied.bytes} bytes`);

    step(`docker service scale ${s().service('database')}=3`);
    s().scale('database', 3);
    const down = await waitFor(() => meshOf(3), 120_000, 'three tasks again, each with the 2 others alive, 3 up in the balancer');
    const answer = await call('/get?k=e2e-7');
    expect(await answer.json()).to.equal('value-7');
    step(`3 tasks, the balancer has 3 up, ${down} ms after scale returned; reads go on`);
  });

  it('a task killed under a stress run: 0 client errors; Swarm replaces it on its volume, and it catches up', async () => {
    const victim = nodes()[0] as { id: string; url: string };
    const slot = s().slot(victim.id);
    step('stress through the published port   (STRESS_DURATION=15, 50 keep-alive connections, set:50,get:50)');
    const stress = startCommand(['node', 'packages/tests/dist/stress/index.js'], {
      cwd: ROOT,
      env: { SERVICE_URL: service, SERVICE_KEY: ADMIN_KEY, STRESS_DURATION: '15', STRESS_KEYS: '2000' },
    }, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 4000)); // load for a while, as a user would see it
    step(`docker kill ${victim.id.slice(0, 12)} (task of slot ${slot})`);
    docker(['kill', victim.id]);
    const result = await stress;
    const report = result.output.split('\n').filter((line) => /requests|throughput|latency|errors|resent|result|:\s+\d/.test(line) && !/^stress: /.test(line));
    for (const line of report) step(`stress: ${line.trim()}`);
    expect(result.code, result.output.slice(-4000)).to.equal(0);
    expect(result.output).to.match(/errors\s+0 \(/);

    const back = await waitFor(() => meshOf(3) && !nodes().some((node) => node.id === victim.id), 120_000, 'a new task in the mesh and the balancer');
    const replacement = nodes().find((node) => s().slot(node.id) === slot) as { id: string; url: string };
    expect(replacement, `a new task of slot ${slot}`).not.to.equal(undefined);
    const [status] = inside<NodeStatus>('/status', [replacement.url]);
    expect(status?.storageOpen.records, 'records read from the slot\'s volume').to.be.above(0);
    const same = (): boolean => {
      const all = inside<{ k: string; v: string }[]>('/getAll', nodes().map((node) => node.url)).map((list) => JSON.stringify(list.map(({ k, v }) => `${k}=${v}`).sort()));
      return new Set(all).size === 1;
    };
    const caughtUp = await waitFor(same, 60_000, 'the new task to hold exactly what the others hold');
    step(`task of slot ${slot} replaced, back in the mesh after ${back} ms, opened its volume with ${status?.storageOpen.records ?? 0} records, identical to its peers ${caughtUp} ms later`);
  });

  it('a rolling update under a stress run: one task at a time, two of three always up in the balancer, 0 client errors', async () => {
    const before = new Set(nodes().map((node) => node.id));
    step('stress through the published port   (STRESS_DURATION=90, set:50,get:50) during docker service update --force');
    const stress = startCommand(['node', 'packages/tests/dist/stress/index.js'], {
      cwd: ROOT,
      env: { SERVICE_URL: service, SERVICE_KEY: ADMIN_KEY, STRESS_DURATION: '90', STRESS_KEYS: '2000' },
    }, 180_000);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // load flowing first
    const update = startCommand(['docker', 'service', 'update', '--force', '--detach=false', s().service('database')], { cwd: ROOT, env: {} }, 170_000);
    let done = false;
    void update.then(() => (done = true));
    let fewest = Infinity;
    while (!done) {
      const up = balancerStats().backends.filter((backend) => backend.state === 'up').length;
      fewest = Math.min(fewest, up);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const updated = await update;
    expect(updated.code, updated.output.slice(-3000)).to.equal(0);
    const replaced = nodes().filter((node) => !before.has(node.id)).length;
    step(`update done: ${replaced} of 3 tasks replaced; the balancer had at least ${fewest} tasks up throughout`);
    expect(replaced).to.equal(3);
    expect(fewest).to.be.at.least(2);
    const result = await stress;
    const report = result.output.split('\n').filter((line) => /requests|errors|resent|result/.test(line) && !/^stress: /.test(line));
    for (const line of report) step(`stress: ${line.trim()}`);
    expect(result.code, result.output.slice(-4000)).to.equal(0);
    expect(result.output).to.match(/errors\s+0 \(/);
    await waitFor(() => meshOf(3), 60_000, 'the updated tasks in one mesh and the balancer');
  });

  it('docker stack rm leaves no service, container or network; the data volumes stay until removed', async () => {
    noteVolumes();
    step(`docker stack rm ${NAME}`);
    s().remove();
    const took = await waitFor(() => s().services().length === 0 && s().allContainers().length === 0 && s().networks().length === 0, 90_000, 'the stack gone');
    expect(s().volumes().sort(), 'the data volumes are kept, like Compose\'s down without -v').to.deep.equal([...volumes].sort());
    for (const name of volumes) docker(['volume', 'rm', name]);
    expect(s().volumes()).to.deep.equal([]);
    step(`nothing left ${took} ms after stack rm: 0 services, 0 containers, 0 networks; the ${volumes.size} data volumes removed by hand`);
  });
});
