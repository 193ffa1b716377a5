import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { converged, fullMesh, type SimNode, startCluster } from '../../helpers/memory-cluster';

/**
 * Whole clusters in one process: the in-memory network and a fake clock, no socket and no
 * real timer. Every scenario runs the same way every time, in milliseconds of real time;
 * the figures below are fake time.
 */
describe('mesh clusters on the in-memory network (fake clock)', () => {
  const running: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of running.splice(0)) await stop();
  });
  const cluster = (count: number, env: Record<string, string> = {}, offsets: number[] = []): ReturnType<typeof startCluster> => {
    const started = startCluster(count, env, offsets);
    running.push(started.stop);
    return started;
  };

  it('turns a chain of 5 seeds into a full mesh within a few ping rounds, every node ready', async () => {
    const { nodes, scheduler } = cluster(5);
    const took = await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    expect(took).to.be.at.most(1000);
    expect(nodes.map((node) => node.mesh.isReady)).to.deep.equal([true, true, true, true, true]);
    for (const node of nodes) expect(node.alive()).to.have.length(4);
  });

  it('replicates writes, deletes and a clear to every node', async () => {
    const { nodes, scheduler } = cluster(3);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
    a.set('x', '1');
    b.set('y', '2');
    c.set('z', '3');
    await scheduler.advance(50);
    expect(converged(nodes)).to.equal(true);
    expect(c.contents()).to.deep.equal([
      ['x', '1'],
      ['y', '2'],
      ['z', '3'],
    ]);
    b.rm('x');
    void c.mesh.replicateClear(c.store.clear(), { w: 1, timeoutMs: 1000 });
    await scheduler.advance(1);
    a.set('after', 'clear');
    await scheduler.advance(50);
    expect(converged(nodes)).to.equal(true);
    expect(a.contents()).to.deep.equal([['after', 'clear']]);
  });

  it('converges conflicting writes of one key to the same winner on every node', async () => {
    const { nodes, scheduler } = cluster(3);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    // Same fake millisecond on every node: the versions tie on time, the node id decides.
    nodes.forEach((node, i) => node.set('contested', `from-${i}`));
    await scheduler.advance(50);
    expect(converged(nodes)).to.equal(true);
    expect(nodes.map((node) => node.store.get('contested'))).to.deep.equal(['from-2', 'from-2', 'from-2']);
  });

  it('splits under a partition (each side sees the other down, keeps taking writes) and converges after it heals', async () => {
    const { nodes, network, scheduler } = cluster(5);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    const left = nodes.slice(0, 2);
    const right = nodes.slice(2);
    network.partition(
      left.map((node) => node.url),
      right.map((node) => node.url),
    );
    await scheduler.until(
      () => left.every((node) => node.mesh.membership.list().filter((peer) => peer.state === 'down').length === 3),
      5000,
      'the left side to see the right side down',
    );
    for (let i = 0; i < 20; i++) (left[i % 2] as SimNode).set(`left-${i}`, String(i));
    for (let i = 0; i < 30; i++) (right[i % 3] as SimNode).set(`right-${i}`, String(i));
    (left[0] as SimNode).set('both', 'left');
    await scheduler.advance(1);
    (right[0] as SimNode).set('both', 'right, later');
    await scheduler.advance(500);
    expect(converged(nodes)).to.equal(false);
    expect(converged(left) && converged(right)).to.equal(true);
    network.heal();
    const took = await scheduler.until(() => fullMesh(nodes) && converged(nodes), 30_000, 'convergence after the heal');
    expect(took).to.be.at.most(5000);
    expect((nodes[0] as SimNode).contents()).to.have.length(51);
    expect(nodes.map((node) => node.store.get('both'))).to.deep.equal(Array(5).fill('right, later'));
  });

  it('a delete is kept while a member that has not seen it is away, however long past the TTL; the member comes back, the delete holds, what it wrote alone stays', async () => {
    const { nodes, network, scheduler } = cluster(3, { TOMBSTONE_TTL_MS: '60000', DOWN_AFTER_MS: '600' });
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
    a.set('doomed', '1');
    a.set('kept', '1');
    await scheduler.advance(600); // an anti-entropy round with each peer after the writes
    network.partition([c.url], [a.url, b.url]);
    a.rm('doomed');
    for (let i = 0; i < 20; i++) c.set(`alone-${i}`, String(i));
    // Two TTLs later A and B still hold the tombstone: C has not seen the delete.
    await scheduler.advance(120_000);
    expect([a.store.tombstoneCount, b.store.tombstoneCount]).to.deep.equal([1, 1]);
    expect(a.mesh.purgeStatus().waitingFor.map((holder) => holder.url)).to.include(c.url);
    expect(c.store.get('doomed')).to.equal('1');
    network.heal();
    await scheduler.until(() => c.mesh.isReady && converged(nodes), 10_000, 'C back and converged');
    for (const node of nodes) {
      expect(node.store.get('doomed'), node.url).to.equal(undefined);
      expect(node.store.get('kept'), node.url).to.equal('1');
      for (let i = 0; i < 20; i++) expect(node.store.get(`alone-${i}`), `${node.url} alone-${i}`).to.equal(String(i));
    }
    // Once every node has the delete, it is forgotten everywhere.
    await scheduler.until(() => nodes.every((node) => node.store.tombstoneCount === 0), 30_000, 'the tombstone purged');
  });

  it('every node alone longer than the TTL: no acknowledged delete comes back, and what each wrote alone survives', async () => {
    const { nodes, network, scheduler } = cluster(3, { TOMBSTONE_TTL_MS: '60000', DOWN_AFTER_MS: '600' });
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
    for (let i = 0; i < 30; i++) a.set(`k-${i}`, String(i));
    await scheduler.advance(600);
    network.partition([a.url], [b.url, c.url]);
    network.partition([b.url], [c.url]);
    for (let i = 0; i < 10; i++) a.rm(`k-${i}`);
    for (let i = 10; i < 20; i++) b.rm(`k-${i}`);
    nodes.forEach((node, n) => {
      for (let i = 0; i < 5; i++) node.set(`alone-${n}-${i}`, 'x');
    });
    await scheduler.advance(150_000);
    network.heal();
    await scheduler.until(() => fullMesh(nodes) && converged(nodes), 30_000, 'convergence after the heal');
    const keys = a.contents().map(([key]) => key);
    expect(keys.filter((key) => key.startsWith('k-'))).to.have.members(Array.from({ length: 10 }, (_, i) => `k-${i + 20}`));
    expect(keys.filter((key) => key.startsWith('alone-'))).to.have.length(15);
  });

  it('never counts a record a peer refused (clock too far ahead) as an acknowledgement: w fails at once, naming why', async () => {
    // Node 0's clock is 90 s ahead; peers refuse versions more than 60 s in their future.
    const { nodes, scheduler } = cluster(3, { MAX_CLOCK_DRIFT_MS: '60000' }, [90_000, 0, 0]);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    const [skewed, healthy] = nodes as [SimNode, SimNode];
    const outcome = skewed.setWith('k', 'from the future', 'all').then(
      () => 'acknowledged',
      (error: unknown) => error,
    );
    await scheduler.advance(50);
    const error = await outcome;
    expect(error).to.be.instanceOf(ApiError);
    expect((error as ApiError).toJSON()).to.include({ error: 'WRITE_REFUSED', acked: 1, required: 3 });
    expect((error as ApiError).message).to.match(/clock/);
    expect(healthy.store.get('k')).to.equal(undefined);
    // A write w=2 from a healthy node is acknowledged as before.
    const healthyWrite = healthy.setWith('ok', '1', 2);
    await scheduler.advance(50);
    await healthyWrite;
  });

  it('measures clock offsets from the pings: the node off by more than half MAX_CLOCK_DRIFT_MS says so and stops stamping writes; the others do not', async () => {
    const { nodes, scheduler } = cluster(3, { MAX_CLOCK_DRIFT_MS: '60000' }, [90_000, 0, 250]);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    await scheduler.advance(500);
    const [skewed, a, b] = nodes as [SimNode, SimNode, SimNode];
    expect(skewed.mesh.clock.skewed).to.equal(true);
    expect(skewed.mesh.clock.offsetMs).to.be.within(89_000, 91_000);
    expect(skewed.mesh.isReady).to.equal(false);
    for (const node of [a, b]) {
      expect(node.mesh.clock.skewed, node.url).to.equal(false);
      expect(Math.abs(node.mesh.clock.offsetMs), node.url).to.be.at.most(300);
    }
    const peers = a.mesh.clock.peers;
    expect(peers.find((p) => p.url === skewed.url)?.offsetMs).to.be.within(89_000, 91_000);
  });

  it('a node whose clock is behind judges remote versions by the mesh time it measured, so it keeps taking the others\' writes', async () => {
    // Node 0 is 120 s behind: without correction every version from the others is "in its future".
    const { nodes, scheduler } = cluster(3, { MAX_CLOCK_DRIFT_MS: '60000' }, [-120_000, 0, 0]);
    await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
    await scheduler.advance(500);
    const [behind, healthy] = nodes as [SimNode, SimNode];
    expect(behind.mesh.clock.skewed).to.equal(true);
    const write = healthy.setWith('k', 'now', 'all');
    await scheduler.advance(50);
    await write;
    expect(behind.store.get('k')).to.equal('now');
    expect(behind.mesh.stats.recordsDrift).to.equal(0);
    expect(converged(nodes)).to.equal(true);
  });

  describe('w=all and w=majority', () => {
    /** Settles a write as its client would see it: 'ok', or the error code and details. */
    const outcome = (write: Promise<void>): Promise<unknown> =>
      write.then(
        () => 'ok',
        (error: unknown) => (error instanceof ApiError ? error.toJSON() : error),
      );

    it('w=all waits for every member, a down one included, and the 504 names who did not answer; w=majority does not', async () => {
      const { nodes, network, scheduler } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
      network.partition([c.url], [a.url, b.url]);
      await scheduler.until(() => a.mesh.membership.get(c.url)?.state === 'down', 5000, 'C down on A');
      const all = outcome(a.setWith('k', '1', 'all', 1000));
      const majority = outcome(a.setWith('m', '1', 'majority', 1000));
      await scheduler.advance(1100);
      expect(await majority).to.equal('ok');
      const timedOut = (await all) as Record<string, unknown>;
      expect(timedOut).to.include({ error: 'WRITE_TIMEOUT', acked: 2, required: 3 });
      expect(timedOut.message).to.contain(`${c.url} (down)`);
    });

    it('a node alone does not acknowledge w=all with its own copy', async () => {
      const { nodes, network, scheduler } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
      network.partition([a.url], [b.url, c.url]);
      await scheduler.until(() => a.mesh.membership.alive().length === 0, 5000, 'A alone');
      const write = outcome(a.setWith('k', '1', 'all', 500));
      const majority = outcome(a.setWith('m', '1', 'majority', 500));
      await scheduler.advance(600);
      expect(await write).to.include({ error: 'WRITE_TIMEOUT', acked: 1, required: 3 });
      expect(await majority).to.include({ error: 'WRITE_TIMEOUT', acked: 1, required: 2 });
    });

    it('a node that leaves (stops) is removed by its peers at once, so w=all does not wait for it', async () => {
      const { nodes, scheduler } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a, b, c] = nodes as [SimNode, SimNode, SimNode];
      await c.stop();
      await scheduler.advance(10);
      expect(a.mesh.membership.get(c.url)).to.equal(undefined);
      expect(b.mesh.membership.get(c.url)).to.equal(undefined);
      const write = outcome(a.setWith('k', '1', 'all', 500));
      await scheduler.advance(50);
      expect(await write).to.equal('ok');
    });

    it('shows a peer that answers pings but takes no replication as degraded, and the 504 names it', async () => {
      const { nodes, network, scheduler } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a, , c] = nodes as [SimNode, SimNode, SimNode];
      network.failPath(c.url, '/_mesh/replicate');
      const write = outcome(a.setWith('k', '1', 'all', 1000));
      await scheduler.advance(1100);
      const peer = a.mesh.peerStatus().find((p) => p.url === c.url);
      expect(peer).to.include({ state: 'alive', degraded: true });
      expect(((await write) as { message: string }).message).to.contain(`${c.url} (degraded: replication failing)`);
      network.heal();
      await scheduler.until(() => a.mesh.peerStatus().every((p) => !p.degraded), 5000, 'C no longer degraded');
    });
  });

  describe('membership: restarts and what others claim', () => {
    it('re-admits within seconds a node restarted with its clock set back an hour (its old incarnation was higher)', async () => {
      const { nodes, scheduler, restart } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a] = nodes as [SimNode];
      const before = a.mesh.membership.get('http://node-2:8100')?.incarnation ?? 0;
      const back = await restart(2, -3_600_000);
      expect(back.mesh.self().incarnation).to.be.below(before);
      const took = await scheduler.until(() => fullMesh(nodes) && (a.mesh.membership.get(back.url)?.incarnation ?? 0) > before, 5000, 'the restarted node re-admitted');
      expect(took).to.be.at.most(1000);
      expect(back.mesh.self().incarnation).to.be.above(before);
    });

    it('does not restart, replace or remove a node on a third party\'s word', async () => {
      const { nodes, network, scheduler } = cluster(3);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a, b] = nodes as [SimNode, SimNode];
      const real = a.mesh.membership.get(b.url);
      const forged = (node: Record<string, unknown>) => network.deliver('http://intruder:1', a.url, '/ping', { node: { url: b.url, ready: true, ...node }, peers: [] });
      await forged({ nodeId: 'forged', incarnation: Number.MAX_SAFE_INTEGER - 5 });
      await forged({ nodeId: b.nodeId, incarnation: (real?.incarnation ?? 0) + 1 });
      await forged({ nodeId: b.nodeId, incarnation: real?.incarnation, leaving: true });
      await scheduler.advance(2000);
      expect(a.mesh.membership.get(b.url)).to.include({ nodeId: b.nodeId, incarnation: real?.incarnation, state: 'alive' });
      expect(fullMesh(nodes)).to.equal(true);
    });

    it('a second node started with an id already in the mesh leaves, refuses writes and says why; the first goes on', async () => {
      const { nodes, scheduler, add } = cluster(2);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      await scheduler.advance(10);
      const [a, b] = nodes as [SimNode, SimNode];
      const twin = add('http://twin:8100', a.nodeId);
      await scheduler.until(() => twin.mesh.duplicateOf !== undefined, 5000, 'the twin to notice');
      expect(twin.mesh.duplicateOf).to.equal(a.url);
      expect(twin.mesh.isReady).to.equal(false);
      expect(a.mesh.duplicateOf).to.equal(undefined);
      await scheduler.advance(2000);
      expect(b.mesh.membership.members().map((peer) => [peer.url, peer.nodeId])).to.deep.equal([[a.url, a.nodeId]]);
      expect(a.mesh.membership.members().map((peer) => peer.url)).to.deep.equal([b.url]);
      const write = a.setWith('k', '1', 'all', 500);
      await scheduler.advance(50);
      await write;
    });

    it('a new node that pings is checked by a ping back before it becomes a member', async () => {
      const { nodes, network, scheduler } = cluster(2);
      await scheduler.until(() => fullMesh(nodes), 5000, 'a full mesh');
      const [a] = nodes as [SimNode];
      await network.deliver('http://ghost:1', a.url, '/ping', { node: { url: 'http://ghost:1', nodeId: 'ghost', incarnation: 1, ready: true }, peers: [] });
      await scheduler.advance(2000);
      expect(a.mesh.membership.members().map((peer) => peer.url)).to.deep.equal([(nodes[1] as SimNode).url]);
      // A w=all write does not wait for it.
      const write = a.setWith('k', '1', 'all', 500);
      await scheduler.advance(50);
      await write;
    });
  });
});
