import { expect } from 'chai';
import * as http from 'node:http';
import { request } from '../../helpers/http';
import { startTestNode, type TestNode } from '../../helpers/node';
import { realScheduler } from '../../../src/clock/scheduler';
import { type RequestContext, type Route, Router } from '../../../src/http/router';
import { ClusterPage } from '../../../src/ui/cluster-page';
import { RecentChanges } from '../../../src/ui/recent-changes';

type Event = { event: string; data: unknown };

/** The server-sent events of `path` until `enough` says so (5 s at most), then the stream is closed. */
function events(base: string, path: string, enough: (got: readonly Event[]) => boolean, headers: http.OutgoingHttpHeaders = {}): Promise<Event[]> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`status ${res.statusCode}`));
        return;
      }
      expect(res.headers['content-type']).to.match(/^text\/event-stream/);
      const got: Event[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (name !== undefined && data !== undefined) got.push({ event: name, data: JSON.parse(data) as unknown });
          if (enough(got)) {
            req.destroy();
            resolve(got);
            return;
          }
          end = buffer.indexOf('\n\n');
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no events in time')));
  });
}

describe('operate: /metrics and the cluster page on a real node', () => {
  let t: TestNode;
  afterEach(() => t.close());

  it('serves /metrics in the Prometheus text format, counting requests by route pattern, method and status', async () => {
    t = await startTestNode({ UI_INTERVAL_MS: '100' });
    await t.get('/set?k=a&v=1');
    await t.get('/kv/a');
    await t.get('/kv/missing');
    await t.get('/nowhere');
    await t.get('/get?k=%zz');
    const reply = await t.get('/metrics');
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(reply.text).to.include('meshkv_http_request_duration_seconds_count{route="/set",method="GET",status="200"} 1');
    expect(reply.text).to.include('meshkv_http_request_duration_seconds_count{route="/kv/{key}",method="GET",status="200"} 1');
    expect(reply.text).to.include('meshkv_http_request_duration_seconds_count{route="/kv/{key}",method="GET",status="404"} 1');
    expect(reply.text).to.include('meshkv_http_request_duration_seconds_count{route="none",method="GET",status="404"} 1');
    expect(reply.text, 'a malformed query is counted before routing').to.include('meshkv_http_request_duration_seconds_count{route="none",method="GET",status="400"} 1');
    expect(reply.text).to.match(/^meshkv_records 1$/m);
    expect(reply.text).to.match(/^meshkv_storage_bytes [1-9]/m);
    expect(reply.text).to.match(/^meshkv_node_info\{node_id="[^"]+",version="[^"]+"\} 1$/m);
    expect(reply.text).to.include('nodejs_eventloop_lag_seconds');
    expect(reply.text).to.match(/^meshkv_watch_connections 0$/m);
    expect(reply.text, 'no watch yet: no event kept').to.match(/^meshkv_watch_buffer_events 0$/m);
    expect(reply.text).to.match(/^meshkv_topic_relayed_total\{outcome="sent"\} 0$/m);
  });

  it('serves the page and its files openly, and the picture of the cluster with the changes as server-sent events', async () => {
    t = await startTestNode({ UI_INTERVAL_MS: '100' });
    const page = await t.get('/ui');
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(page.text).to.include('<script src="/ui/app.js">');
    expect((await t.get('/ui/app.js')).headers['content-type']).to.equal('text/javascript; charset=utf-8');
    expect((await t.get('/ui/app.css')).status).to.equal(200);
    const missing = await t.get('/ui/../../package.json');
    expect(missing.status).to.equal(404);
    expect((await t.get('/ui/secret.txt')).json()).to.include({ error: 'NOT_FOUND' });

    await t.get('/set?k=before&v=1');
    const changesOf = (got: readonly Event[]): { op: string; key?: string; origin: string }[] =>
      got.filter((item) => item.event === 'changes').flatMap((item) => item.data as { op: string; key?: string; origin: string }[]);
    const stream = events(t.url, '/ui/events', (got) => changesOf(got).some((change) => change.op === 'rm'));
    // Written while the page is open: in the next changes event.
    setTimeout(() => void t.get('/set?k=after&v=2').then(() => t.get('/rm?k=after')), 150);
    const got = await stream;
    const [picture, recent] = got as [{ event: string; data: { self: { nodeId: string; load: { records: number } }; peers: unknown[]; balancer: null } }, { event: string; data: unknown[] }];
    expect(picture.event).to.equal('picture');
    expect(picture.data.self.nodeId).to.equal(t.node.nodeId);
    expect(picture.data.self.load.records).to.equal(1);
    expect(picture.data.peers).to.deep.equal([]);
    expect(picture.data.balancer).to.equal(null);
    expect(recent.event).to.equal('changes');
    const changed = changesOf(got);
    expect(changed.map((change) => `${change.op} ${change.key} ${change.origin}`)).to.include.members(['set after local', 'rm after local']);
    expect(changed.some((change) => change.key === 'before'), 'a change before the page opened is not in its feed').to.equal(false);
  });

  it("shows the balancer's backends from its /stats (UI_BALANCER_URL, with its token), and why when it cannot read them", async () => {
    const seen: (string | undefined)[] = [];
    const stats = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ connections: { active: 1, accepted: 9 }, backends: [{ name: 'db-1', address: '10.0.0.1:8100', state: 'up', active: 1, total: 9 }, { odd: true }] }));
    });
    await new Promise<void>((resolve) => stats.listen(0, '127.0.0.1', resolve));
    const port = (stats.address() as { port: number }).port;
    try {
      t = await startTestNode({ UI_INTERVAL_MS: '100', UI_BALANCER_URL: `http://127.0.0.1:${port}`, UI_BALANCER_TOKEN: 'lb-token' });
      type Pictured = { balancer: { url: string; error?: string; backends: unknown[]; connections?: unknown } };
      const got = await events(t.url, '/ui/events', (seenEvents) => seenEvents.some((item) => item.event === 'picture' && (item.data as Pictured).balancer.backends.length > 0));
      const last = got.filter((item) => item.event === 'picture').pop()?.data as Pictured;
      expect(last.balancer).to.deep.equal({ url: `http://127.0.0.1:${port}`, backends: [{ name: 'db-1', address: '10.0.0.1:8100', state: 'up', active: 1, total: 9 }], connections: { active: 1, accepted: 9 } });
      expect(seen[0]).to.equal('Bearer lb-token');
    } finally {
      await new Promise((resolve) => stats.close(resolve));
    }
    await t.close();
    t = await startTestNode({ UI_INTERVAL_MS: '100', UI_BALANCER_URL: `http://127.0.0.1:${port}` });
    const got = await events(t.url, '/ui/events', (seenEvents) => seenEvents.some((item) => item.event === 'picture' && /cannot read its \/stats/.test(String((item.data as { balancer: { error?: string } }).balancer.error))));
    expect(got.length).to.be.greaterThan(0);
  });

  it('runs without its page when the page\'s files cannot be read, and says so', async () => {
    t = await startTestNode({});
    const page = new ClusterPage({ picture: () => { throw new Error('not drawn'); }, changes: new RecentChanges(t.node.store, Date.now), scheduler: realScheduler, intervalMs: 1000, assetsDir: '/nonexistent' });
    expect(page.missing).to.include('cannot be read');
    const router = new Router();
    page.register(router);
    const answer = { status: 0, body: '' };
    const res = { writeHead: (status: number) => { answer.status = status; return res; }, end: (body: string) => { answer.body = body; } };
    void (router.lookup('/ui') as Route).handler({ res, method: 'GET', path: '/ui' } as unknown as RequestContext);
    expect(answer.status).to.equal(404);
    expect(answer.body).to.include('no cluster page');
  });

  it('with API keys: the page is open, its events take a key with read and no tenant (as key= too), and no key record shows', async () => {
    const ADMIN = 'operate-admin-key-0123456789';
    t = await startTestNode({ ADMIN_KEY: ADMIN, UI_INTERVAL_MS: '100' });
    expect((await request(t.url, '/ui')).status).to.equal(200);
    expect((await request(t.url, '/ui/events', { method: 'HEAD' })).status).to.equal(401);
    expect((await request(t.url, '/metrics')).status).to.equal(401);
    expect((await request(t.url, `/ui/events?key=${ADMIN}`, { method: 'HEAD' })).status).to.equal(200);
    const made = request(t.url, '/admin/keys/create?name=app&scopes=read', { headers: { authorization: `Bearer ${ADMIN}` } });
    const got = await events(t.url, `/ui/events?key=${ADMIN}`, (seen) => seen.filter((item) => item.event === 'picture').length >= 4);
    expect((await made).status).to.equal(200);
    expect(got.filter((item) => item.event === 'changes').flatMap((item) => item.data as unknown[]), 'a key is a record of the node: never shown').to.deep.equal([]);
    expect(JSON.stringify(got)).to.not.include(ADMIN);
    expect((await request(t.url, '/metrics', { headers: { authorization: `Bearer ${ADMIN}` } })).status).to.equal(200);
  });
});
