import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import WebSocket from 'ws';
import { request, waitFor } from '../../helpers/http';
import { startTestNode, type TestNode } from '../../helpers/node';

type Message = Record<string, unknown>;

/** An SSE stream read as it comes: its messages (parsed `data:`), its raw text, and whether it ended. */
interface SseStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly messages: Message[];
  text: string;
  ended: boolean;
  close(): void;
}

function sse(base: string, target: string, headers: http.OutgoingHttpHeaders = {}): Promise<SseStream> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: target, headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      const stream: SseStream = { status: res.statusCode ?? 0, headers: res.headers, messages: [], text: '', ended: false, close: () => req.destroy() };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        stream.text += chunk;
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          if (data !== undefined) stream.messages.push(JSON.parse(data) as Message);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      });
      res.on('end', () => (stream.ended = true));
      res.on('error', () => (stream.ended = true));
      resolve(stream);
    });
    req.on('error', reject);
  });
}

/** A WebSocket's messages and how it closed. */
interface WsStream {
  readonly socket: WebSocket;
  readonly messages: Message[];
  closed: { code: number; reason: string } | undefined;
  pings: number;
}

function ws(base: string, target: string, headers: Record<string, string> = {}): Promise<WsStream> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}${target}`, { headers });
    const stream: WsStream = { socket, messages: [], closed: undefined, pings: 0 };
    socket.on('message', (data: Buffer) => stream.messages.push(JSON.parse(data.toString('utf8')) as Message));
    socket.on('close', (code, reason) => (stream.closed = { code, reason: String(reason) }));
    socket.on('ping', () => stream.pings++);
    socket.on('open', () => resolve(stream));
    socket.on('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    socket.on('error', reject);
  });
}

const changes = (messages: readonly Message[]): Message[] => messages.filter((m) => m.type !== 'open');

describe('watch: change feeds on a real node', () => {
  let t: TestNode;
  afterEach(() => t?.close());

  it('streams server-sent events: an open event, then set, rm and expire with ids and versions, in order', async () => {
    t = await startTestNode();
    const stream = await sse(t.url, '/watch?prefix=a');
    expect(stream.status).to.equal(200);
    expect(stream.headers['content-type']).to.equal('text/event-stream; charset=utf-8');
    await waitFor(() => stream.messages.length === 1, 2000, 'the open event');
    expect(stream.messages[0]).to.have.property('type', 'open');
    expect(stream.text).to.match(/^retry: 2000\n\nid: \S+\ndata: /);
    const set = await t.get('/set?k=a1&v=x');
    await t.get('/set?k=b1&v=y');
    await t.get('/set?k=a2&v=z&ttl=100');
    await t.get('/rm?k=a1');
    await waitFor(() => changes(stream.messages).length === 4, 3000, 'four events (the expiry within a sweep)');
    stream.close();
    const got = changes(stream.messages);
    expect(got.map((e) => [e.type, e.k])).to.deep.equal([['set', 'a1'], ['set', 'a2'], ['rm', 'a1'], ['expire', 'a2']]);
    expect(got[0]).to.include({ v: 'x', version: (set.headers.etag as string).slice(1, -1) });
    expect(got[1]).to.have.property('expiresAt').that.is.a('number');
    for (const event of got) expect(stream.text).to.include(`id: ${event.id as string}\ndata: ${JSON.stringify(event)}`);
  });

  it('continues exactly after Last-Event-ID or after=, and tells an id it cannot continue from as a first event (410)', async () => {
    t = await startTestNode();
    await t.get('/set?k=before&v=0');
    // The first watch: from it on the node keeps events (before it, nobody could continue after one).
    const first = (await t.get('/watch?wait=0')).json() as { events: Message[]; next: string };
    expect(first.events).to.deep.equal([]);
    for (let i = 0; i < 5; i++) await t.get(`/set?k=k${i}&v=${i}`);
    const page = (await t.get(`/watch?wait=0&limit=2&after=${encodeURIComponent(first.next)}`)).json() as { events: Message[]; next: string };
    expect(page.events.map((e) => e.k)).to.deep.equal(['k0', 'k1']);
    expect(page.next).to.equal(page.events[1]?.id);
    const all = (await t.get(`/watch?wait=0&after=${encodeURIComponent(first.next)}`)).json() as { events: Message[]; next: string };
    expect(all.events.map((e) => e.k)).to.deep.equal(['k0', 'k1', 'k2', 'k3', 'k4']);
    const resumed = await sse(t.url, '/watch', { 'last-event-id': all.events[2]?.id as string });
    await waitFor(() => resumed.messages.length === 3, 2000, 'the events after k2');
    resumed.close();
    expect(changes(resumed.messages).map((e) => e.k)).to.deep.equal(['k3', 'k4']);
    const socket = await ws(t.url, `/watch?after=${encodeURIComponent(all.events[3]?.id as string)}`);
    await waitFor(() => socket.messages.length === 2, 2000, 'the event after k3');
    expect(changes(socket.messages).map((e) => e.k)).to.deep.equal(['k4']);
    socket.socket.close();

    const other = await sse(t.url, '/watch?after=zzzzzz.0-3');
    await waitFor(() => other.ended, 2000, 'the stream to end');
    expect(other.messages).to.deep.equal([{ type: 'error', status: 410, error: 'CURSOR_EXPIRED', message: other.messages[0]?.message }]);
    const otherWs = await ws(t.url, '/watch?after=zzzzzz.0-3');
    await waitFor(() => otherWs.closed !== undefined, 2000, 'the socket to close');
    expect(otherWs.messages[0]).to.include({ type: 'error', error: 'CURSOR_EXPIRED' });
    expect(otherWs.closed).to.deep.equal({ code: 4410, reason: 'expired' });
    const poll = await t.get('/watch?wait=1s&after=zzzzzz.0-3');
    expect(poll.status).to.equal(410);
    expect(poll.json()).to.include({ error: 'CURSOR_EXPIRED' });
  });

  it('answers a long poll at the first event, or with none and the id to continue from at its deadline', async () => {
    t = await startTestNode();
    const empty = await t.get('/watch?wait=50ms');
    expect(empty.status).to.equal(200);
    expect(empty.headers['cache-control']).to.equal('no-store');
    const { events, next } = empty.json() as { events: Message[]; next: string };
    expect(events).to.deep.equal([]);
    const waiting = t.get(`/watch?k=x&wait=30s&after=${encodeURIComponent(next)}`);
    await t.get('/set?k=y&v=1');
    await t.get('/set?k=x&v=2');
    const answer = (await waiting).json() as { events: Message[]; next: string };
    expect(answer.events.map((e) => [e.type, e.k, e.v])).to.deep.equal([['set', 'x', '2']]);
    expect(answer.next).to.equal(answer.events[0]?.id);
  });

  it('refuses bad watches with a 400 that says why', async () => {
    t = await startTestNode({ MAX_KEY_LENGTH: '4' });
    const cases: [string, string][] = [
      ['/watch?k=a&prefix=b', 'INVALID_PARAMETER'],
      ['/watch?k=', 'EMPTY_KEY'],
      ['/watch?k=abcde', 'MAXIMUM_KEY_LENGTH_REACHED'],
      ['/watch?prefix=abcde', 'INVALID_PARAMETER'],
      ['/watch?after=nonsense', 'INVALID_CURSOR'],
      ['/watch?since=yesterday', 'INVALID_PARAMETER'],
      ['/watch?since=now&after=x.0-1', 'INVALID_PARAMETER'],
      ['/watch?wait=61s', 'INVALID_PARAMETER'],
      ['/watch?wait=-1', 'INVALID_PARAMETER'],
      ['/watch?wait=1.5', 'INVALID_PARAMETER'],
      ['/watch?wait=1s&limit=0', 'INVALID_LIMIT'],
      ['/subscribe', 'MISSING_TOPIC_PARAM'],
      ['/subscribe?t=', 'INVALID_PARAMETER'],
      ['/publish?t=x', 'MISSING_MESSAGE_PARAM'],
      ['/publish?m=x', 'MISSING_TOPIC_PARAM'],
      ['/publish?t=abcde&m=x', 'INVALID_PARAMETER'],
    ];
    for (const [target, code] of cases) {
      const reply = await t.get(target);
      expect([target, reply.status, (reply.json() as { error: string }).error]).to.deep.equal([target, 400, code]);
    }
    expect((await t.get('/watch?wait=1s', 'POST')).status).to.equal(405);
    const head = await t.get('/watch', 'HEAD');
    expect([head.status, head.headers['content-type']]).to.deep.equal([200, 'text/event-stream; charset=utf-8']);
    const socket = new WebSocket(`${t.url.replace('http', 'ws')}/watch?wait=1s`);
    const status = await new Promise<number | undefined>((resolve) => socket.on('unexpected-response', (_req, res) => resolve(res.statusCode)));
    expect(status).to.equal(400);
  });

  it('serves a WebSocket watch with pings, and answers a request with Upgrade to another route as a plain one', async () => {
    t = await startTestNode({ WATCH_HEARTBEAT_MS: '20' });
    const socket = await ws(t.url, '/watch?k=a');
    await t.get('/set?k=a&v=1');
    await waitFor(() => socket.messages.length === 2 && socket.pings >= 2, 2000, 'an event and two pings');
    expect(socket.messages[1]).to.include({ type: 'set', k: 'a', v: '1' });
    socket.socket.close();
    const stream = await sse(t.url, '/watch');
    await waitFor(() => stream.text.includes(': ping\n\n'), 2000, 'an SSE heartbeat');
    stream.close();
    const plain = await request(t.url, '/get?k=a', { headers: { connection: 'Upgrade', upgrade: 'h2c' } });
    expect([plain.status, plain.text]).to.deep.equal([200, '"1"']);
  });

  it('takes WATCH_MAX_CONNECTIONS streams and polls, refuses the next with 503 and Retry-After, and takes one again once one closes', async () => {
    t = await startTestNode({ WATCH_MAX_CONNECTIONS: '2' });
    const one = await sse(t.url, '/watch');
    const two = await ws(t.url, '/subscribe?t=x');
    const refused = await t.get('/watch?wait=1s');
    expect([refused.status, refused.headers['retry-after'], (refused.json() as { error: string }).error]).to.deep.equal([503, '1', 'TOO_MANY_WATCHERS']);
    const refusedWs = new WebSocket(`${t.url.replace('http', 'ws')}/watch`);
    expect(await new Promise((resolve) => refusedWs.on('unexpected-response', (_req, res) => resolve(res.statusCode)))).to.equal(503);
    one.close();
    await waitFor(() => t.node.watches.connections === 1, 2000, 'the slot back');
    expect((await t.get('/watch?wait=0')).status).to.equal(200);
    two.socket.close();
    await waitFor(() => t.node.watches.connections === 0, 2000, 'every slot back');
  });

  it('cuts a watcher that does not read with an overflow event once it falls WATCH_QUEUE_EVENTS behind; it resumes from its last id', async () => {
    t = await startTestNode({ WATCH_QUEUE_EVENTS: '100', MAX_VALUE_LENGTH: '10000', SEND_TIMEOUT_MS: '60000' });
    // A raw socket that reads nothing: its kernel buffers fill, then the node's.
    const socket = net.connect(t.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(`GET /watch HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(() => t.node.watches.connections === 1, 2000, 'the watch open');
    const value = 'v'.repeat(9000);
    for (let i = 0; i < 5000 && t.node.watches.stats.overflows === 0; i++) {
      t.node.store.set(`k${i}`, value);
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(t.node.watches.stats.overflows, 'the watcher cut').to.equal(1);
    // Now read everything it was sent: its events in order, then the overflow event.
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.resume();
    await waitFor(() => text.includes('"type":"overflow"'), 5000, 'the overflow event');
    const ids = [...text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1] as string);
    const keys = [...text.matchAll(/"k":"(k\d+)"/g)].map((m) => m[1]);
    expect(keys).to.deep.equal(keys.map((_, i) => `k${i}`));
    socket.destroy();
    const last = ids.at(-1) as string;
    const resumed = (await t.get(`/watch?wait=0&limit=1&after=${encodeURIComponent(last)}`)).json() as { events: Message[] };
    expect(resumed.events[0]?.k).to.equal(`k${keys.length}`);
  });

  it('ends its streams when the node shuts down, so clients reconnect elsewhere', async () => {
    // SHUTDOWN_DRAIN_MS: it goes on listening a while (for a balancer to notice), refusing watches.
    t = await startTestNode({ SHUTDOWN_DRAIN_MS: '1000' });
    const stream = await sse(t.url, '/watch');
    const socket = await ws(t.url, '/subscribe?t=x');
    const poll = t.get('/watch?wait=30s');
    await waitFor(() => t.node.watches.connections === 3, 2000, 'three open');
    const stopping = t.node.shutdown();
    await waitFor(() => stream.ended && socket.closed !== undefined, 3000, 'the streams ended');
    expect(socket.closed?.code).to.equal(1001);
    expect((await poll).json()).to.deep.include({ events: [] });
    // Until it stops listening: an EventSource is told to come back (any other status would stop it for good), others get 503.
    const again = await request(t.url, '/watch');
    expect([again.status, again.text]).to.deep.equal([200, 'retry: 2000\n\n']);
    expect((await t.get('/watch?wait=1s')).json()).to.include({ error: 'SHUTTING_DOWN' });
    await stopping;
  });
});

describe('topics on a real node', () => {
  let t: TestNode;
  afterEach(() => t?.close());

  it('delivers a published message to every subscriber of its topic, over SSE and WebSocket, and counts them', async () => {
    t = await startTestNode();
    const a = await sse(t.url, '/subscribe?t=news');
    const b = await ws(t.url, '/subscribe?t=news');
    const other = await ws(t.url, '/subscribe?t=sports');
    await waitFor(() => a.messages.length === 1 && b.messages.length === 1 && other.messages.length === 1, 2000, 'three open events');
    const published = await t.get('/publish?t=news&m=hello%20world');
    expect(published.json()).to.deep.equal({ success: true, subscribers: 2 });
    const posted = await request(t.url, '/publish?t=news', { method: 'POST', body: 'ünïcode body' });
    expect(posted.json()).to.deep.equal({ success: true, subscribers: 2 });
    await waitFor(() => a.messages.length === 3 && b.messages.length === 3, 2000, 'two messages each');
    expect(a.messages.slice(1)).to.deep.equal([
      { type: 'message', t: 'news', m: 'hello world' },
      { type: 'message', t: 'news', m: 'ünïcode body' },
    ]);
    expect(b.messages.slice(1)).to.deep.equal(a.messages.slice(1));
    expect(other.messages).to.have.length(1);
    expect((await t.get('/publish?t=nobody&m=x')).json()).to.deep.equal({ success: true, subscribers: 0 });
    a.close();
    b.socket.close();
    other.socket.close();
  });

  it('refuses a message longer than MAX_VALUE_LENGTH (413 as a body)', async () => {
    t = await startTestNode({ MAX_VALUE_LENGTH: '3' });
    expect((await t.get('/publish?t=x&m=abcd')).status).to.equal(400);
    expect((await request(t.url, '/publish?t=x', { method: 'POST', body: 'abcd' })).status).to.equal(413);
    expect((await request(t.url, '/publish?t=x&m=a', { method: 'POST', body: 'abc' })).status).to.equal(400);
  });
});

describe('watch and topics with API keys', () => {
  const ADMIN = 'watch-admin-key-0123456789';
  let t: TestNode;
  afterEach(() => t?.close());

  const makeKey = async (query: string): Promise<string> =>
    ((await request(t.url, `/admin/keys/create?${query}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { key: string }).key;

  it("asks for a key with read (SSE, WebSocket and polls alike), and shows a tenant's watch and topics only its own, without its prefix", async () => {
    t = await startTestNode({ ADMIN_KEY: ADMIN });
    const tenant = await makeKey('name=t&scopes=read,write&tenant=acme');
    const writer = await makeKey('name=w&scopes=write');
    expect((await request(t.url, '/watch?wait=0')).status).to.equal(401);
    expect((await request(t.url, '/watch?wait=0', { headers: { authorization: `Bearer ${writer}` } })).status).to.equal(403);
    const refused = new WebSocket(`${t.url.replace('http', 'ws')}/watch`, { headers: { authorization: `Bearer ${writer}` } });
    expect(await new Promise((resolve) => refused.on('unexpected-response', (_req, res) => resolve(res.statusCode)))).to.equal(403);

    const auth = { authorization: `Bearer ${tenant}` };
    const watch = await ws(t.url, '/watch', auth);
    const everything = await sse(t.url, '/watch', { authorization: `Bearer ${ADMIN}` });
    const sub = await sse(t.url, '/subscribe?t=news', auth);
    const outsider = await sse(t.url, '/subscribe?t=news', { authorization: `Bearer ${ADMIN}` });
    await waitFor(() => watch.messages.length === 1 && everything.messages.length === 1 && sub.messages.length === 1 && outsider.messages.length === 1, 2000, 'open events');
    await request(t.url, '/set?k=mine&v=1', { headers: auth });
    await request(t.url, '/set?k=theirs&v=2', { headers: { authorization: `Bearer ${ADMIN}` } });
    await waitFor(() => everything.messages.length === 3, 2000, 'both writes seen by a key without a tenant');
    expect(changes(everything.messages).map((e) => e.k)).to.deep.equal(['acme/mine', 'theirs']);
    await waitFor(() => watch.messages.length === 2, 2000, "the tenant's write");
    expect(changes(watch.messages)).to.have.length(1);
    expect(changes(watch.messages)[0]).to.include({ k: 'mine', v: '1' });

    expect((await request(t.url, '/publish?t=news&m=hi', { headers: auth })).json()).to.deep.equal({ success: true, subscribers: 1 });
    await waitFor(() => sub.messages.length === 2, 2000, "the tenant's message");
    expect(sub.messages[1]).to.deep.equal({ type: 'message', t: 'news', m: 'hi' });
    expect(outsider.messages, "another tenant's topic of the same name").to.have.length(1);
    watch.socket.close();
    everything.close();
    sub.close();
    outsider.close();
  });

  it('ends the streams of a key once it is revoked, at the next heartbeat, telling them why (401)', async () => {
    t = await startTestNode({ ADMIN_KEY: ADMIN, WATCH_HEARTBEAT_MS: '50' });
    const made = (await request(t.url, '/admin/keys/create?name=r&scopes=read', { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { key: string; id: string };
    const auth = { authorization: `Bearer ${made.key}` };
    const watch = await sse(t.url, '/watch', auth);
    const sub = await ws(t.url, '/subscribe?t=x', auth);
    const admin = await sse(t.url, '/watch', { authorization: `Bearer ${ADMIN}` });
    await waitFor(() => watch.messages.length === 1 && sub.messages.length === 1, 2000, 'open events');
    await request(t.url, `/admin/keys/revoke?id=${made.id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    await waitFor(() => watch.ended && sub.closed !== undefined, 3000, 'the streams of the revoked key ended');
    expect(watch.messages.at(-1)).to.include({ type: 'error', status: 401, error: 'UNAUTHORIZED' });
    expect(sub.messages.at(-1)).to.include({ type: 'error', error: 'UNAUTHORIZED' });
    expect(admin.ended, "the admin key's stream goes on").to.equal(false);
    admin.close();
  });
});
