import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { signMeshRequest } from '@meshkv/common';
import { hlcFromMs } from '../../../src/clock/hlc';
import { post, waitFor } from '../../helpers/http';
import { contents, FAST_MESH, fullMesh, startChain } from '../../helpers/mesh';
import { startTestNode, type TestNode } from '../../helpers/node';

describe('mesh (in-process nodes on real sockets)', function () {
  this.timeout(20_000);
  const running: TestNode[] = [];
  const track = (nodes: TestNode[]): TestNode[] => {
    running.push(...nodes);
    return nodes;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.close()));
  });

  it('turns a chain of seeds into a full mesh, and replicates a write on the first to the last', async () => {
    const nodes = track(await startChain(4));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    expect((await nodes[0]!.get('/set?k=hello&v=world')).status).to.equal(200);
    await waitFor(async () => (await nodes[3]!.get('/get?k=hello')).text === '"world"', 5000, 'the write on D');
    const status = (await nodes[3]!.get('/status')).json() as { ready: boolean; peers: { state: string; outbox: number }[] };
    expect(status.ready).to.equal(true);
    expect(status.peers.map((p) => p.state)).to.deep.equal(['alive', 'alive', 'alive']);
  });

  it('asks a balancer seed again at once when the answer came from this node itself', async () => {
    // A seed that, like a round-robin balancer pinged in step by nodes started together,
    // sends each round's ping back to its sender; only a ping that follows its sender's
    // previous one at once goes to another node.
    const lastAt = new Map<string, number>();
    const seed = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const sender = (JSON.parse(body) as { node: { url: string } }).node.url;
        const now = Date.now();
        const again = now - (lastAt.get(sender) ?? 0) < 15;
        lastAt.set(sender, now);
        const other = [...lastAt.keys()].find((url) => url !== sender);
        const target = again && other !== undefined ? other : sender;
        const forward = http.request(`${target}/ping`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
          answer.pipe(res);
        });
        forward.on('error', () => res.destroy());
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => seed.listen(0, '127.0.0.1', resolve));
    try {
      const seedUrl = `http://127.0.0.1:${(seed.address() as net.AddressInfo).port}`;
      const a = await startTestNode({ ...FAST_MESH, MESH_NETWORK_URL: seedUrl });
      const b = await startTestNode({ ...FAST_MESH, MESH_NETWORK_URL: seedUrl });
      track([a, b]);
      await waitFor(() => fullMesh([a, b]), 3000, 'the two nodes to meet through the seed');
    } finally {
      seed.closeAllConnections();
      await new Promise<void>((resolve) => seed.close(() => resolve()));
    }
  });

  it('replicates /rm and /clear, and a write newer than a clear survives it', async () => {
    const nodes = track(await startChain(3));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    await a.get('/set?k=x&v=1&w=all');
    await a.get('/set?k=y&v=2&w=all');
    expect((await b.get('/rm?k=x&w=all')).status).to.equal(200);
    expect((await c.get('/get?k=x')).status).to.equal(404);
    expect((await c.get('/clear?w=all')).status).to.equal(200);
    expect((await a.get('/get?k=y')).status).to.equal(404);
    expect((await b.get('/set?k=z&v=after&w=all')).status).to.equal(200);
    for (const t of nodes) expect(contents(t)).to.deep.equal([['z', 'after']]);
    expect(a.node.store.clearWatermark).to.deep.equal(c.node.store.clearWatermark);
  });

  it('waits for w nodes, and answers 504 WRITE_TIMEOUT with the ack count when they cannot be had', async () => {
    const nodes = track(await startChain(2));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b] = nodes as [TestNode, TestNode];
    expect((await a.get('/set?k=k&v=1&w=2')).status).to.equal(200);
    expect(b.node.store.get('k')).to.equal('1');
    const reply = await a.get('/set?k=k&v=2&w=3&wtimeout=100');
    expect(reply.status).to.equal(504);
    expect(reply.json()).to.include({ error: 'WRITE_TIMEOUT', acked: 2, required: 3 });
    expect(a.node.store.get('k')).to.equal('2'); // applied all the same
    expect((await a.get('/clear?w=3&wtimeout=50')).status).to.equal(504);
    expect((await a.get('/rm?k=nothing&w=all')).status).to.equal(404);
    expect((await a.get('/set?k=k&v=1&w=two')).json()).to.include({ error: 'INVALID_WRITE_CONCERN' });
  });

  it('bootstraps a new node from a peer, values streamed, and reports ready', async () => {
    const [a] = track(await startChain(1));
    for (let i = 0; i < 3000; i++) a!.node.store.set(`key-${i}`, `value-${i}`);
    a!.node.store.remove('key-7');
    const b = track([await startTestNode({ ...FAST_MESH, MESH_NETWORK_URL: a!.url })])[0]!;
    await waitFor(() => b.node.mesh.isReady, 5000, 'b ready');
    expect(contents(b)).to.deep.equal(contents(a!));
    expect(b.node.store.tombstoneCount).to.equal(1);
    expect(b.node.mesh.stats.lastSync).to.include({ pulled: 3000, pushed: 0 });
  });

  it('replicates values of 65,536 code points (MAX_VALUE_LENGTH=65536) through writes, batches and a bootstrap, bodies cut under MESH_MAX_BODY_BYTES', async () => {
    const env = { MAX_VALUE_LENGTH: '65536', MESH_MAX_BODY_BYTES: '2000000' };
    const [a, b] = track(await startChain(2, env));
    await waitFor(() => fullMesh([a!, b!]), 5000, 'a full mesh');
    const long = (i: number): string => `${i}:${'é😀x'.repeat(21_845)}`.slice(0, 65_536);
    // 40 values of ~150 kB (up to 524 kB of JSON counted at 6 bytes a unit): replicate
    // requests of at most 2 MB, so several per batch; each batch body itself under 2 MB.
    for (let part = 0; part < 4; part++) {
      const ops = Array.from({ length: 10 }, (_, i) => ({ op: 'set', k: `long-${part * 10 + i}`, v: long(part * 10 + i) }));
      const batch = await post(a!.url, '/batch?w=all', JSON.stringify({ ops }));
      expect(batch.status, batch.text).to.equal(200);
    }
    expect(contents(b!)).to.deep.equal(contents(a!));
    expect(b!.node.store.get('long-39')).to.equal(long(39));
    const c = track([await startTestNode({ ...FAST_MESH, ...env, MESH_NETWORK_URL: a!.url })])[0]!;
    await waitFor(() => c.node.mesh.isReady && c.node.store.liveCount === 40, 10_000, 'c bootstrapped');
    expect(contents(c)).to.deep.equal(contents(a!));
  });

  it('refuses to start with a MESH_MAX_BODY_BYTES one record of the longest key and value cannot fit in', async () => {
    let message = '';
    await startTestNode({ MAX_VALUE_LENGTH: '65536', MESH_MAX_BODY_BYTES: '500000' }).then(
      (t) => track([t]),
      (error: Error) => (message = error.message),
    );
    expect(message).to.match(/MESH_MAX_BODY_BYTES \(500000\) must be at least 788108/);
  });

  it('repairs differences both ways with anti-entropy, sending only what differs', async () => {
    const nodes = track(await startChain(2, { AE_INTERVAL_MS: '100000' }));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b] = nodes as [TestNode, TestNode];
    await waitFor(() => b.node.mesh.stats.syncRounds > 0, 5000, 'the sync at join');
    for (let i = 0; i < 2000; i++) a.node.store.set(`shared-${i}`, 'v');
    expect(await a.node.mesh.syncNow(b.url)).to.include({ pulled: 0, pushed: 2000 });
    // Writes that bypass replication: only anti-entropy can bring them over.
    a.node.store.set('only-a', '1');
    a.node.store.set('shared-1', 'newer-on-a');
    b.node.store.set('only-b', '2');
    b.node.store.set('shared-2', 'newer-on-b');
    b.node.store.remove('shared-3');
    const report = await b.node.mesh.syncNow(a.url);
    expect(contents(a)).to.deep.equal(contents(b));
    expect(a.node.store.get('shared-1')).to.equal('newer-on-a');
    expect(a.node.store.get('shared-2')).to.equal('newer-on-b');
    expect(a.node.store.has('shared-3')).to.equal(false);
    expect(report.pulled).to.equal(2);
    expect(report.pushed).to.equal(3);
    expect(report.bytesIn).to.be.below(100_000);
  });

  it('catches up a peer that was down, and drops its outbox meanwhile', async () => {
    const nodes = track(await startChain(2));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b] = nodes as [TestNode, TestNode];
    const peerOfA = a.node.mesh.membership.get(b.url)!;
    // Pretend b has been silent: a marks it down and stops queueing for it.
    peerOfA.lastContact -= 10_000;
    a.node.mesh.membership.evaluate();
    expect(peerOfA.state).to.equal('down');
    a.node.store.set('while-down', 'x');
    await waitFor(() => b.node.store.get('while-down') === 'x', 5000, 'the catch-up');
  });

  it('takes only mesh requests signed with the secret: not the secret itself, not a replay, not another body, path or time', async () => {
    const nodes = track(await startChain(2, { MESH_SECRET: 'open sesame' }));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh with the secret');
    const [a] = nodes as [TestNode];
    const body = JSON.stringify({ records: [['evil', 'x', hlcFromMs(Date.now()), 'intruder']], clear: null });
    const sign = (text: string, options: { secret?: string; path?: string; time?: number } = {}): Record<string, string> => ({
      authorization: signMeshRequest(options.secret ?? 'open sesame', { method: 'POST', path: options.path ?? '/_mesh/replicate', body: text }, options.time),
    });
    const signed = sign(body);
    const refused = [
      {},
      { authorization: 'Bearer open sesame' },
      { authorization: 'open sesame' },
      sign(body, { secret: 'wrong' }),
      sign(body, { path: '/_mesh/pull' }),
      sign('{"records":[],"clear":null}'),
    ];
    for (const headers of refused) {
      const reply = await post(a.url, '/_mesh/replicate', body, headers);
      expect(reply.status).to.equal(401);
      expect(reply.json()).to.include({ error: 'UNAUTHORIZED' });
    }
    for (const time of [Date.now() - 10 * 60_000, Date.now() + 121_000]) {
      const stale = await post(a.url, '/_mesh/replicate', body, sign(body, { time }));
      expect(stale.status, 'signed with the secret, at a time too far from the node\'s').to.equal(401);
      expect(stale.json()).to.include({ error: 'STALE_SIGNATURE' });
    }
    expect((await a.get('/ping?nodes=x:1')).status).to.equal(401);
    expect(a.node.store.has('evil')).to.equal(false);
    const ok = await post(a.url, '/_mesh/replicate', body, signed);
    expect(ok.json()).to.deep.equal({ applied: 1, stale: 0, refused: 0, refusals: [], clearRefused: null });
    const replay = await post(a.url, '/_mesh/replicate', body, signed);
    expect(replay.status, 'the same signed request again').to.equal(401);
  });

  it('a peer with smaller limits refuses what it cannot keep: w=all fails at once naming why, anti-entropy does not force it in', async () => {
    const [a] = track(await startChain(1, { MAX_KEY_LENGTH: '1000' }));
    const b = track([await startTestNode({ ...FAST_MESH, MESH_NETWORK_URL: a!.url })])[0]!;
    await waitFor(() => fullMesh([a!, b]), 5000, 'a full mesh');
    // Each knows what the other can keep (and logs at join that they differ).
    expect(a!.node.mesh.peerStatus()[0]?.limits).to.deep.equal({ maxKeyLength: 64, maxValueLength: 256, storage: 'memory' });
    expect(b.node.mesh.peerStatus()[0]?.limits).to.include({ maxKeyLength: 1000 });
    const long = 'k'.repeat(100);
    const reply = await a!.get(`/set?k=${long}&v=1&w=all`);
    expect(reply.status).to.equal(503);
    expect(reply.json()).to.include({ error: 'WRITE_REFUSED', acked: 1, required: 2 });
    expect((reply.json() as { message: string }).message).to.contain('MAX_KEY_LENGTH');
    await b.node.mesh.syncNow(a!.url);
    expect(b.node.store.has(long)).to.equal(false);
    expect(b.node.mesh.stats.recordsOverLimits).to.be.at.least(1);
  });

  it('tells each peer its figures in its pings: records, outbox, requests served, replication lag', async () => {
    const [a, b] = track(await startChain(2));
    // Written until one write reaches b by replication (the first may find b still catching up, then comes by anti-entropy).
    await waitFor(async () => (await a!.get('/set?k=x&v=1&w=all')).status === 200 && b!.node.mesh.replicationLag.count >= 1, 5000, 'a write replicated to b');
    await a!.get('/get?k=x');
    // A ping sent before the read was counted carries the write only: wait for one after it.
    await waitFor(() => (b!.node.mesh.peerStatus()[0]?.load?.reads ?? 0) >= 1, 5000, "a's figures on b");
    const load = b!.node.mesh.peerStatus()[0]?.load;
    expect(load).to.include({ records: 1 });
    expect(load?.writes).to.be.at.least(1);
    expect(load?.reads).to.be.at.least(1);
    await waitFor(() => (a!.node.mesh.peerStatus()[0]?.load?.lagCount ?? 0) >= 1, 5000, "b's replication lag on a");
  });

  it('answers a large pull as a stream, serving other requests between its slices', async () => {
    const [a] = track(await startChain(1, { MESH_SECRET: 'open sesame', MAX_VALUE_LENGTH: '2000' }));
    const value = 'v'.repeat(1000);
    const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);
    for (const key of keys) a!.node.store.set(key, value);
    const body = JSON.stringify({ keys });
    // Health checks sent while the pull is answered: each must be answered before the pull ends.
    let pullEnded = false;
    const during: boolean[] = [];
    const probe = async (): Promise<void> => {
      while (!pullEnded) {
        await a!.get('/healthcheck');
        during.push(!pullEnded);
      }
    };
    const probing = probe();
    const chunks = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${a!.url}/_mesh/pull`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: signMeshRequest('open sesame', { method: 'POST', path: '/_mesh/pull', body }) },
      });
      req.on('response', (res) => {
        let count = 0;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          count++;
          text += chunk.toString('utf8');
        });
        res.on('end', () => {
          pullEnded = true;
          const answer = JSON.parse(text) as { format: number; records: unknown[] };
          expect(answer.format).to.equal(1);
          expect(answer.records).to.have.length(20_000);
          expect(answer.records[7]).to.deep.include.members(['key-7', value]);
          resolve(count);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
    await probing;
    expect(chunks, 'chunks of the 20 MB answer').to.be.above(10);
    expect(during.filter(Boolean).length, 'health checks answered while the pull streamed').to.be.above(0);
  });

  it('cannot be told by a client to skip replication', async () => {
    const nodes = track(await startChain(2));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b] = nodes as [TestNode, TestNode];
    await a.get('/set?k=k&v=1&replicate=false&w=1&local=true');
    await waitFor(() => b.node.store.get('k') === '1', 5000, 'the write on b');
    expect((await a.get('/_mesh/replicate')).status).to.equal(405);
  });

  it('refuses records from a clock too far ahead, and expired tombstones', async () => {
    const [a] = track([await startTestNode({ ...FAST_MESH, MAX_CLOCK_DRIFT_MS: '1000', TOMBSTONE_TTL_MS: '60000' })]);
    const now = Date.now();
    const records = [
      ['future', 'x', hlcFromMs(now + 60_000), 'n'],
      ['dead', null, hlcFromMs(now - 120_000), 'n'],
      ['fine', 'y', hlcFromMs(now), 'n'],
    ];
    const reply = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records, clear: { hlc: hlcFromMs(now + 60_000), nodeId: 'n' } }));
    expect(reply.json()).to.deep.equal({ applied: 1, stale: 0, refused: 3, refusals: [['future', 'drift'], ['dead', 'expired']], clearRefused: 'drift' });
    expect(a!.node.mesh.stats).to.include({ recordsDrift: 2, recordsExpired: 1 });
    expect(contents(a!)).to.deep.equal([['fine', 'y']]);
  });

  it("takes an expired tombstone that an anti-entropy round pushes (repair) when it deletes a value held here; refuses one of a key not held", async () => {
    const [a] = track([await startTestNode({ ...FAST_MESH, TOMBSTONE_TTL_MS: '60000' })]);
    const now = Date.now();
    const old = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: [['dead', 'x', hlcFromMs(now - 130_000), 'n']], clear: null }));
    expect(old.json()).to.include({ applied: 1, refused: 0 });
    const tombstone = [['dead', null, hlcFromMs(now - 120_000), 'n']];
    // As a fresh write it is refused (a clock is off), and the value stays.
    expect((await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: tombstone, clear: null }))).json()).to.deep.include({ refusals: [['dead', 'expired']] });
    expect(contents(a!)).to.deep.equal([['dead', 'x']]);
    // A repair that is not true or false is a 400, and changes nothing.
    const bad = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: tombstone, clear: null, repair: 'yes' }));
    expect(bad.status).to.equal(400);
    expect(contents(a!)).to.deep.equal([['dead', 'x']]);
    const repaired = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: tombstone, clear: null, repair: true }));
    expect(repaired.json()).to.deep.include({ applied: 1, refused: 0, refusals: [] });
    expect(contents(a!)).to.deep.equal([]);
    // One of a key not held here is old news, refused as from its writer (no hand-back for ever).
    const absent = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: [['absent', null, hlcFromMs(now - 120_000), 'n']], clear: null, repair: true }));
    expect(absent.json()).to.deep.include({ applied: 0, refusals: [['absent', 'expired']] });
    expect(a!.node.store.tombstoneCount).to.equal(1);
  });

  it('answers malformed mesh bodies with 400 and oversized ones with 413, changing nothing', async () => {
    const [a] = track([await startTestNode({ ...FAST_MESH, MESH_MAX_BODY_BYTES: '8192' })]);
    await a!.get('/set?k=keep&v=1');
    const cases: [string, string][] = [
      ['/_mesh/replicate', 'not json'],
      ['/_mesh/replicate', '[]'],
      ['/_mesh/replicate', '{"records":[["k","v",-1,"n"]]}'],
      ['/_mesh/replicate', '{"records":[],"clear":{"hlc":"soon"}}'],
      ['/_mesh/digests', 'null'],
      ['/_mesh/versions', '{"buckets":[99999]}'],
      ['/_mesh/versions', '{"buckets":"all"}'],
      ['/_mesh/pull', '{"keys":[1]}'],
      ['/ping', '{"node":{"nodeId":"x"}}'],
      ['/ping', '{"node":{"nodeId":"x","url":"http://h:1","incarnation":1,"ready":true},"peers":[{"url":"nope"}]}'],
    ];
    for (const [route, body] of cases) {
      const reply = await post(a!.url, route, body);
      expect(reply.status, `${route} ${body}`).to.equal(400);
      expect(reply.json()).to.include({ error: 'MALFORMED_BODY' });
    }
    const big = await post(a!.url, '/_mesh/replicate', JSON.stringify({ records: [['k', 'v'.repeat(10_000), 1, 'n']] }));
    expect(big.status).to.equal(413);
    expect((await a!.get('/ping?nodes=bad%20host')).json()).to.include({ error: 'MALFORMED_QUERY' });
    expect(contents(a!)).to.deep.equal([['keep', '1']]);
  });

  it('drops values that may be stale, keeps what is newer than its last sync and every delete, and bootstraps when it comes back after longer than the tombstone TTL', async () => {
    const nodes = track(await startChain(3, { TOMBSTONE_TTL_MS: '60000', SUSPECT_AFTER_MS: '1000000', DOWN_AFTER_MS: '1000000', FORGET_AFTER_MS: '1000000' }));
    await waitFor(() => fullMesh(nodes), 5000, 'a full mesh');
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    await a.get('/set?k=kept&v=1&w=all');
    // A key whose delete the others purged long ago: only a node that was away still has it
    // (a version from before its last contact).
    c.node.store.apply('zombie', { value: 'back from the dead', hlc: hlcFromMs(Date.now() - 200_000), nodeId: 'gone' }, 'repaired');
    // A delete C made before its last contact that never reached the others (a partition
    // cut its replication): they still hold the value it deletes. Kept, it wins.
    for (const t of [a, b, c]) t.node.store.apply('doomed', { value: 'deleted on C', hlc: hlcFromMs(Date.now() - 300_000), nodeId: 'gone' }, 'repaired');
    c.node.store.apply('doomed', { value: null, hlc: hlcFromMs(Date.now() - 250_000), nodeId: c.node.mesh.self().nodeId }, 'repaired');
    c.node.store.set('fresh', 'mine');
    expect(c.node.mesh.isReady).to.equal(true);
    // C's own view: its last contact with anyone was two TTLs ago.
    (c.node.mesh as unknown as { pinger: { lastContactAt: number } }).pinger.lastContactAt = Date.now() - 120_000;
    await waitFor(() => !c.node.store.has('zombie'), 5000, 'C to drop its stale data');
    await waitFor(() => c.node.mesh.isReady && c.node.store.get('kept') === '1', 5000, 'C to bootstrap again');
    for (const t of [a, b, c]) expect(t.node.store.has('zombie'), 'zombie resurrected').to.equal(false);
    await waitFor(() => [a, b, c].every((t) => !t.node.store.has('doomed')), 5000, "C's old delete on every node");
    // Written on C alone while "away" (no replication): kept, and handed over.
    await waitFor(() => [a, b, c].every((t) => t.node.store.get('fresh') === 'mine'), 5000, 'what C wrote alone on every node');
  });

  it('speaks the nkvd ping form, learning the nodes it is told about', async () => {
    const nodes = track(await startChain(1));
    const other = track([await startTestNode(FAST_MESH)])[0]!;
    const port = new URL(other.url).port;
    const reply = (await nodes[0]!.get(`/ping?nodes=127.0.0.1:${port}`)).json() as { nodes: { port: number; isDown: boolean }[] };
    expect(reply.nodes[0]).to.include({ port: nodes[0]!.port, isDown: false });
    await waitFor(() => fullMesh([nodes[0]!, other]), 5000, 'the two nodes meshed');
  });

  it('keeps sockets bounded when a peer accepts connections and never answers', async () => {
    const sockets = new Set<net.Socket>();
    let accepted = 0;
    const silent = net.createServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.resume(); // reads the request, never answers
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const [a] = track(await startChain(1, { MESH_NETWORK_URL: silentUrl, PING_TIMEOUT_MS: '50', PING_INTERVAL_MS: '20' }));
      for (let i = 0; i < 200; i++) await a!.get(`/set?k=k${i}&v=v`);
      // Each ping times out and its socket is closed: connections come and go, never pile up.
      await waitFor(() => accepted >= 20, 10_000, '20 timed-out pings');
      expect(sockets.size).to.be.at.most(4);
      expect(a!.node.mesh.isReady).to.equal(false); // its seed never answered: it waits to join
      expect(a!.node.mesh.joinStatus().seeds[0]?.problem).to.match(/^unreachable/);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
