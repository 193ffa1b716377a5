import { expect } from 'chai';
import { startTestNode, type TestNode } from '../../helpers/node';

describe('admin routes', () => {
  let t: TestNode;
  beforeEach(async () => {
    t = await startTestNode({ NODE_ID: 'node-a' });
  });
  afterEach(() => t.close());

  it('answers /healthcheck with {"status":"ok"}', async () => {
    const reply = await t.get('/healthcheck');
    expect(reply.status).to.equal(200);
    expect(reply.json()).to.deep.equal({ status: 'ok' });
  });

  it('answers /ready with {"status":"ready"} on a node that takes traffic, without a key', async () => {
    const reply = await t.get('/ready');
    expect(reply.status).to.equal(200);
    expect(reply.json()).to.deep.equal({ status: 'ready' });
    const keyed = await startTestNode({ ADMIN_KEY: 'k'.repeat(32) });
    try {
      expect((await keyed.get('/ready')).status).to.equal(200);
      expect((await keyed.get('/status')).status).to.equal(401);
    } finally {
      await keyed.close();
    }
  });

  it('describes the node in /status, with types', async () => {
    await t.get('/set?k=a&v=1');
    await t.get('/set?k=b&v=2');
    await t.get('/rm?k=b');
    const status = (await t.get('/status')).json() as Record<string, unknown>;
    expect(status).to.include({
      hostname: 'test-node',
      port: t.port,
      maxKeyLength: 64,
      maxValueLength: 256,
      availableRecords: 1,
      tombstones: 1,
      nodeId: 'node-a',
      storage: 'memory',
      ready: true,
      shuttingDown: false,
    });
    expect(status.version).to.match(/^\d+\.\d+\.\d+/);
    expect(status.incarnation).to.be.a('number');
    expect(status.uptimeMs).to.be.a('number').and.at.least(0);
    expect(status.connections).to.be.a('number').and.at.least(1);
    expect(status.peers).to.deep.equal([]);
    const memory = status.memory as Record<string, unknown>;
    for (const field of ['rss', 'heapUsed', 'heapTotal', 'external']) expect(memory[field], field).to.be.a('number').and.above(0);
    // ADVERTISE_URL is http://$HOSTNAME:$PORT; with PORT=0 it carries the port picked at listen.
    expect(status.advertiseUrl).to.equal(`http://test-node:${t.port}`);
  });

  it('picks a random node id when none is given', async () => {
    const other = await startTestNode();
    try {
      const id = ((await other.get('/status')).json() as { nodeId: string }).nodeId;
      expect(id).to.match(/^[0-9a-f]{16}$/);
    } finally {
      await other.close();
    }
  });

  it('answers /healthcheck 503 while shutting down', async () => {
    const drained = await startTestNode({ SHUTDOWN_DRAIN_MS: '200' });
    const stopped = drained.close();
    const reply = await drained.get('/healthcheck');
    expect(reply.status).to.equal(503);
    expect(reply.json()).to.include({ status: 'shutting_down', error: 'SHUTTING_DOWN' });
    expect(((await drained.get('/status')).json() as { ready: boolean }).ready).to.equal(false);
    const ready = await drained.get('/ready');
    expect(ready.status).to.equal(503);
    expect(ready.json()).to.include({ status: 'not_ready', error: 'NOT_READY' });
    await stopped;
  });
});
