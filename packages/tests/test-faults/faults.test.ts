import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { signMeshRequest } from '@meshkv/common';
import { NodeProcess } from '../src/cluster/node-process';
import { FaultLab, labProblem, type LabHost } from '../src/faults/lab';
import { type Outcome, outcomeTable, Workload } from '../src/faults/workload';
import { isFullMesh, SCENARIO_ENV, SECRET, waitFor } from '../test/helpers/mesh';

/**
 * The fault suite (`npm run test:faults`, as root): three nodes, each in its own network
 * namespace, and real faults between them. Every scenario records each client operation
 * and its answer, heals, then checks that no acknowledged write is lost, no acknowledged
 * delete comes back and every node holds the same records, and how long that took. The
 * table of every scenario is printed at the end.
 */

const PORT = 8100;
const CONVERGE_DEADLINE_MS = 60_000;
const outcomes: Outcome[] = [];

describe('faults', function () {
  this.timeout(240_000);
  const lab = new FaultLab(3);
  let nodes: NodeProcess[] = [];

  before(function () {
    const problem = labProblem();
    if (problem !== undefined) {
      if (process.env.CI === 'true') throw new Error(`The fault suite cannot run: ${problem}`);
      process.stdout.write(`\n  fault suite skipped: ${problem}\n`);
      this.skip();
    }
    lab.setUp();
  });

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    lab.heal();
  });

  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    lab.tearDown();
    if (outcomes.length > 0) process.stdout.write(`\n${outcomeTable(outcomes)}\n\n`);
  });

  const host = (index: number): LabHost => lab.hosts[index] as LabHost;
  const urls = (): string[] => nodes.map((node) => node.url);

  /** Node i in namespace i; the first starts the mesh, the others join it. */
  async function startNode(index: number, env: Record<string, string> = {}, expectExit = false): Promise<NodeProcess> {
    const place = host(index);
    const seeds: Record<string, string> = index === 0 ? {} : { MESH_NETWORK_URL: `http://${host(0).address}:${PORT}` };
    return NodeProcess.start(`n${index + 1}`, { ...SCENARIO_ENV, ...seeds, MAX_VALUE_LENGTH: '10000', ...env }, { port: PORT, host: place.address, wrap: place.wrap, expectExit });
  }

  async function startMesh(envs: Record<string, string>[] = []): Promise<void> {
    nodes = [];
    for (let index = 0; index < lab.size; index++) nodes.push(await startNode(index, envs[index]));
    await waitFor(() => isFullMesh(nodes), 20_000, 'a full mesh');
  }

  /** Runs the workload for `durationMs` while `steps` run at their times (ms from the start). */
  async function during(workload: Workload, durationMs: number, steps: [number, () => void | Promise<void>][], options: Partial<Parameters<Workload['run']>[1]> = {}): Promise<void> {
    const load = workload.run(urls, { durationMs, ...options });
    const started = Date.now();
    for (const [at, step] of steps) {
      const wait = started + at - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await step();
    }
    await load;
  }

  /**
   * Heals, then checks. `split`: the fault must have split the mesh (keys the nodes
   * disagree on when it ends), or the scenario tested nothing.
   */
  async function finish(workload: Workload, note = '', split = false): Promise<Outcome> {
    const splitAtHeal = split ? await workload.disagreement(urls()) : null;
    lab.heal();
    const outcome = await workload.check(urls(), CONVERGE_DEADLINE_MS, note, splitAtHeal);
    if (split) expect(splitAtHeal, 'keys the fault split').to.be.above(0);
    outcomes.push(outcome);
    expect(outcome.lost, 'acknowledged writes lost').to.equal(0);
    expect(outcome.resurrected, 'acknowledged deletes come back').to.equal(0);
    expect(outcome.divergent, 'keys the nodes disagree on').to.equal(0);
    expect(outcome.acknowledged, 'writes acknowledged').to.be.above(0);
    return outcome;
  }

  it('a symmetric partition: one node cut from the two others, both sides written', async () => {
    await startMesh();
    const workload = new Workload('symmetric');
    await during(workload, 6000, [[1000, () => lab.partition([host(0)])]]);
    await finish(workload, 'n1 | n2 n3 for 5 s', true);
  });

  it('a symmetric partition with w=majority: the cut-off node acknowledges nothing', async () => {
    await startMesh();
    const workload = new Workload('majority');
    await during(workload, 6000, [[1000, () => lab.partition([host(0)])]], { w: 'majority', requestTimeoutMs: 8000 });
    const minority = workload.operations.filter((operation) => operation.url === nodes[0]?.url && operation.status === 504).length;
    expect(minority, 'writes on the cut-off node answered 504').to.be.above(0);
    await finish(workload, `w=majority, n1 cut 5 s: ${minority} writes on n1 504`, true);
  });

  it('a total partition longer than the tombstone TTL: no delete comes back', async () => {
    const short = { TOMBSTONE_TTL_MS: '2000', MAX_CLOCK_DRIFT_MS: '200' };
    await startMesh([short, short, short]);
    const workload = new Workload('past-ttl');
    await during(workload, 7000, [[1000, () => lab.isolateAll()]], { deleteShare: 0.4 });
    await finish(workload, 'every node alone 6 s, TTL 2 s', true);
  });

  it('a one-way partition: a node hears nothing from one peer, which still hears it', async () => {
    await startMesh();
    const workload = new Workload('one-way');
    await during(workload, 6000, [[1000, () => lab.deafen(host(0), host(1))]]);
    await finish(workload, 'n1 deaf to n2 for 5 s', true);
  });

  it('a total partition: every node alone', async () => {
    await startMesh();
    const workload = new Workload('total');
    await during(workload, 6000, [[1000, () => lab.isolateAll()]]);
    await finish(workload, 'every node alone 5 s', true);
  });

  it('a flapping partition: cut and healed every 700 ms', async () => {
    await startMesh();
    const workload = new Workload('flapping');
    const steps: [number, () => void][] = [];
    for (let at = 500; at < 6000; at += 1400) steps.push([at, () => lab.partition([host(2)])], [at + 700, () => lab.heal()]);
    steps.push([6000, () => lab.partition([host(2)])]);
    await during(workload, 6500, steps);
    await finish(workload, 'n3 cut 5 times', true);
  });

  it('packet loss: a node drops 30 % of what the others send it', async () => {
    await startMesh();
    const workload = new Workload('loss');
    await during(workload, 6000, [[500, () => lab.loseShare(host(1), 0.3)]]);
    await finish(workload, 'n2 drops 30 % for 5.5 s');
  });

  it('a bandwidth cap: a node sends at 256 kbit/s', async () => {
    await startMesh();
    const workload = new Workload('bandwidth');
    await during(workload, 6000, [[0, () => lab.capBandwidth(host(0), '256kbit')]], { valueLength: 2000 });
    await finish(workload, 'n1 capped 6 s, 2 KB values');
  });

  it('clock skew: a node 90 s ahead takes no writes, and loses none of the others', async () => {
    await startMesh([{}, {}, FaultLab.clockOff(90)]);
    await waitFor(async () => (await (nodes[2] as NodeProcess).status()).clock.skewed, 10_000, 'n3 to see its clock is off');
    const workload = new Workload('skew');
    await during(workload, 4000, []);
    const refused = workload.operations.filter((operation) => operation.url === nodes[2]?.url && operation.status === 503).length;
    expect(refused, 'writes to the skewed node refused').to.be.above(0);
    await finish(workload, `n3 +90 s: ${refused} writes 503 CLOCK_SKEW`);
  });

  // Off by more than MAX_CLOCK_DRIFT_MS (60 s), well within the 120 s window of signed mesh requests.
  it('clock skew: a node 90 s behind takes no writes, yet takes every write of the others', async () => {
    await startMesh([{}, {}, FaultLab.clockOff(-90)]);
    await waitFor(async () => (await (nodes[2] as NodeProcess).status()).clock.skewed, 10_000, 'n3 to see its clock is off');
    const workload = new Workload('behind');
    await during(workload, 4000, []);
    const refused = workload.operations.filter((operation) => operation.url === nodes[2]?.url && operation.status === 503).length;
    expect(refused, 'writes to the skewed node refused').to.be.above(0);
    await finish(workload, `n3 -90 s: ${refused} writes 503 CLOCK_SKEW`);
  });

  it('a full disk: writes to that node get 507, reads go on, writes come back by themselves', async () => {
    const disk = lab.smallDisk(8 * 1024 * 1024);
    const filler = path.join(disk, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(5 * 1024 * 1024));
    await startMesh([{}, { STORAGE: 'lmdb', DATA_DIR: path.join(disk, 'data'), MIN_FREE_DISK_MB: '1' }, {}]);
    const full = nodes[1] as NodeProcess;
    const workload = new Workload('disk-full');
    // Until the node refuses, then one more second (the workload is bounded either way).
    const load = workload.run(urls, { durationMs: 30_000, maxOperations: 8000, valueLength: 2000 });
    await waitFor(() => workload.operations.some((operation) => operation.url === full.url && operation.status === 507), 30_000, 'a 507');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    workload.stop();
    await load;
    const read = await fetch(`${full.url}/getKeys`);
    expect(read.status, 'reads on the full node').to.equal(200);
    expect((await full.status()).storageFault?.kind).to.equal('full');
    fs.rmSync(filler);
    await waitFor(async () => (await full.status()).storageFault === null, 10_000, 'the node to take writes again');
    const refused = workload.operations.filter((operation) => operation.status === 507).length;
    expect(full.running, 'the full node still runs').to.equal(true);
    await finish(workload, `n2 on 8 MB tmpfs: ${refused} writes 507, then writable`);
  });

  it('a damaged data file: the node refuses it, says how to recover, and recovers from its peers', async () => {
    const dataDir = lab.folder('data');
    await startMesh([{}, { STORAGE: 'lmdb', DATA_DIR: dataDir }, {}]);
    const workload = new Workload('damaged');
    await during(workload, 3000, [], { valueLength: 500 });
    await waitFor(async () => (await workload.check(urls(), 0)).divergent === 0, 30_000, 'the mesh to converge before the damage');
    await (nodes[1] as NodeProcess).stop();
    const file = path.join(dataDir, 'meshkv.mdb');
    const bytes = fs.readFileSync(file);
    for (let page = 2; page * 4096 < bytes.length; page += 3) bytes.fill(0xa5, page * 4096, page * 4096 + 4096);
    fs.writeFileSync(file, bytes);
    const refusing = await startNode(1, { STORAGE: 'lmdb', DATA_DIR: dataDir }, true);
    expect(await refusing.ended(60_000), 'exit status').to.equal(1);
    expect(refusing.log, refusing.log).to.match(/is damaged: .*To recover: move the file aside/);
    fs.renameSync(file, `${file}.damaged`);
    nodes[1] = await startNode(1, { STORAGE: 'lmdb', DATA_DIR: dataDir });
    await during(workload, 2000, []);
    await finish(workload, 'n2 refused (exit 1), restarted empty, bootstrapped');
  });

  it('a client that stops reading is cut after SEND_TIMEOUT_MS; the node serves the others meanwhile', async () => {
    await startMesh([{ SEND_TIMEOUT_MS: '2000' }, {}, {}]);
    const first = nodes[0] as NodeProcess;
    // 12 MB of listing: more than the socket buffers of both ends hold.
    const filler = new Workload('stalled-listing');
    await filler.run(() => [first.url], { durationMs: 20_000, maxOperations: 3000, valueLength: 4000, deleteShare: 0, ratePerSecond: 2000 });
    await filler.close();
    const socket = net.connect(PORT, first.host);
    socket.pause(); // reads nothing
    socket.on('error', () => undefined);
    socket.write(`GET /getAll HTTP/1.1\r\nHost: ${first.host}\r\n\r\n`);
    const workload = new Workload('stalled');
    await during(workload, 5000, []); // the others are served meanwhile
    // Now read what the node had sent before it gave up: the listing must end cut, not whole.
    let received = 0;
    let tail = '';
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-16);
    });
    socket.resume();
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    const cut = socket.destroyed && !tail.endsWith('0\r\n\r\n');
    socket.destroy();
    expect(cut, 'the stalled listing was cut, not sent whole').to.equal(true);
    await finish(workload, `stalled /getAll of 12 MB cut after ${(received / 1e6).toFixed(1)} MB`);
  });

  it('hostile mesh requests with the secret are refused, and the node goes on', async () => {
    await startMesh();
    const target = nodes[0] as NodeProcess;
    const signed = async (pathname: string, body: string): Promise<number> => {
      const res = await fetch(`${target.url}${pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: signMeshRequest(SECRET, { method: 'POST', path: pathname, body }) },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const statuses = {
      pull: await signed('/_mesh/pull', JSON.stringify({ keys: Array.from({ length: 200_000 }, () => 'k') })),
      ping: await signed('/ping', JSON.stringify({ nodeId: 'x', url: 'http://10.77.0.99:1', incarnation: 1, peers: Array.from({ length: 10_000 }, (_, i) => ({ url: `http://10.77.${i >> 8}.${i & 255}:1` })) })),
      unsigned: (await fetch(`${target.url}/_mesh/pull`, { method: 'POST', body: '{"keys":[]}' })).status,
    };
    expect(statuses).to.deep.equal({ pull: 413, ping: 413, unsigned: 401 });
    const workload = new Workload('hostile');
    await during(workload, 2000, []);
    await finish(workload, `pull 200k keys ${statuses.pull}, ping 10k peers ${statuses.ping}, unsigned ${statuses.unsigned}`);
  });
});
