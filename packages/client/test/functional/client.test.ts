import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { freePort } from '@meshkv/common';
import { MeshKvClient, MeshKvError } from '../../src/client';
import { type EventStream, StreamError } from '../../src/watch';

/** The events of `stream` until there are `count` (10 s at most). */
async function take<T extends { type: string }>(stream: EventStream<T>, count: number): Promise<T[]> {
  const got: T[] = [];
  const timer = setTimeout(() => stream.close(), 10_000);
  try {
    for await (const event of stream) {
      got.push(event);
      if (got.length === count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

/** The error a stream ends with (undefined: it ended without one). */
async function failureOf<T extends { type: string }>(stream: EventStream<T>): Promise<unknown> {
  try {
    for await (const _event of stream) return undefined;
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The built database node of this repository (`npm run build` makes it before the tests). */
const NODE_ENTRY = path.join(__dirname, '..', '..', '..', '..', 'database', 'dist', 'main.js');
const SECRET = 'client-test-secret';

/** A node process on a free port with `env`, and a client of it; resolves once it answers. */
async function spawnNode(env: Record<string, string>, options: { apiKey?: string; port?: number } = {}): Promise<{ node: ChildProcess; client: MeshKvClient; url: string }> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const node = spawn(process.execPath, [NODE_ENTRY], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), BIND_ADDRESS: '127.0.0.1', HOSTNAME: 'client-test', LOG_LEVEL: 'warn', ...env },
    stdio: 'ignore',
  });
  const client = new MeshKvClient({ url, timeoutMs: 2000, ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }) });
  const deadline = Date.now() + 10_000;
  while (!(await client.healthy().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`the node at ${url} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { node, client, url };
}

async function stop(node: ChildProcess, client: MeshKvClient): Promise<void> {
  await client.close();
  node.kill('SIGTERM');
  await new Promise((resolve) => node.once('close', resolve));
}

describe('MeshKvClient against a real node process', function () {
  this.timeout(20_000);
  let node: ChildProcess;
  let client: MeshKvClient;
  let url: string;

  before(async () => {
    ({ node, client, url } = await spawnNode({ MESH_SECRET: SECRET, MAX_KEY_LENGTH: '8' }));
  });

  after(() => stop(node, client));

  it('sets, gets, checks and removes a key, with any UTF-8', async () => {
    await client.set('city', 'Zürich & 𤭢', { w: 1, wtimeout: 1000 });
    expect(await client.get('city')).to.equal('Zürich & 𤭢');
    expect(await client.is('city')).to.equal(true);
    expect(await client.rm('city', { w: 1 })).to.equal(true);
    expect(await client.get('city')).to.equal(undefined);
    expect(await client.is('city')).to.equal(false);
    expect(await client.rm('city')).to.equal(false);
  });

  it('lists keys, values and pairs, and clears them', async () => {
    await client.set('a', '1');
    await client.set('b', '');
    expect((await client.keys()).sort()).to.deep.equal(['a', 'b']);
    expect((await client.values()).sort()).to.deep.equal(['', '1']);
    expect((await client.all()).sort((x, y) => x.k.localeCompare(y.k))).to.deep.equal([
      { k: 'a', v: '1' },
      { k: 'b', v: '' },
    ]);
    await client.clear({ w: 1 });
    expect(await client.keys()).to.deep.equal([]);
  });

  it('writes keys that expire, and reads, sets and removes their expiry', async () => {
    const tag = await client.set('t', 'v', { ttl: '1h' });
    expect(tag).to.match(/^"[^"]+"$/);
    expect(await client.ttl('t')).to.be.within(3_500_000, 3_600_000);
    expect(await client.expire('t', 60_000)).to.equal(true);
    expect(await client.ttl('t')).to.be.within(50_000, 60_000);
    expect(await client.persist('t')).to.equal(true);
    expect(await client.ttl('t')).to.equal(null);
    expect(await client.ttl('none')).to.equal(undefined);
    expect(await client.expire('none', 5)).to.equal(false);
    expect(await client.persist('none')).to.equal(false);
    await client.set('gone', 'v', { ttl: 1 });
    const deadline = Date.now() + 5000;
    while ((await client.get('gone')) !== undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await client.get('gone')).to.equal(undefined);
  });

  it('reads versions and meta; scans pages by prefix in code point order', async () => {
    await client.clear();
    const tag = await client.set('m', 'héllo');
    expect(await client.meta('m')).to.deep.equal({ k: 'm', version: tag.slice(1, -1), ttlMs: null, size: 6 });
    expect(await client.meta('m', { value: true })).to.include({ v: 'héllo' });
    expect(await client.meta('none')).to.equal(undefined);
    for (const key of ['p/b', 'p/a', 'p/c', 'q']) await client.set(key, key);
    expect(await client.scanKeys({ prefix: 'p/', limit: 2 })).to.deep.equal({ items: ['p/a', 'p/b'], next: 'p/b' });
    expect(await client.scan({ prefix: 'p/', after: 'p/b' })).to.deep.equal({ items: [{ k: 'p/c', v: 'p/c' }], next: null });
    const all: string[] = [];
    for await (const item of client.scanAll({ prefix: 'p/', limit: 1 })) all.push(item.k);
    expect(all).to.deep.equal(['p/a', 'p/b', 'p/c']);
    expect(await client.keys('p/')).to.deep.equal(['p/a', 'p/b', 'p/c']);
    expect(await client.values('p/')).to.deep.equal(['p/a', 'p/b', 'p/c']);
    expect(await client.all('q')).to.deep.equal([{ k: 'q', v: 'q' }]);
  });

  it('puts, reads and deletes through /kv/{key}; runs a batch', async () => {
    const tag = await client.put('a/b', 'Zürich 😀', { ttl: '1m' });
    expect(await client.read('a/b')).to.deep.equal({ value: 'Zürich 😀', etag: tag });
    expect(await client.get('a/b')).to.equal('Zürich 😀');
    expect(await client.delete('a/b')).to.equal(true);
    expect(await client.delete('a/b')).to.equal(false);
    expect(await client.read('a/b')).to.equal(undefined);
    let error: unknown;
    try {
      await client.read('much-too-long');
    } catch (caught) {
      error = caught;
    }
    expect(error).to.include({ code: 'MAXIMUM_KEY_LENGTH_REACHED' });
    try {
      await client.delete('much-too-long');
    } catch (caught) {
      error = caught;
    }
    expect(error).to.include({ code: 'MAXIMUM_KEY_LENGTH_REACHED' });
    const results = await client.batch([{ op: 'set', k: 'x', v: '1', ttl: 60_000 }, { op: 'rm', k: 'none' }, { op: 'expire', k: 'x', ttl: '2m' }, { op: 'persist', k: 'x' }], { w: 1 });
    expect(results.map((result) => ('error' in result ? result.error : 'ok'))).to.deep.equal(['ok', 'MISSING_RECORD', 'ok', 'ok']);
  });

  it('reads the typed /status', async () => {
    const status = await client.status();
    expect(status).to.include({ hostname: 'client-test', maxKeyLength: 8, storage: 'memory', ready: true });
    expect(status.peers).to.deep.equal([]);
    expect(status.mesh.syncRounds).to.equal(0);
  });

  it('reads /metrics as text, and the picture of the cluster from /ui/events', async () => {
    await client.set('m', '1');
    expect(await client.metrics()).to.match(/^meshkv_records \d+$/m);
    const picture = await client.clusterPicture();
    expect(picture.self.load.records).to.be.at.least(1);
    expect(picture.self).to.include({ ready: true });
    expect(picture.peers).to.deep.equal([]);
    expect(picture.balancer).to.equal(null);
    // The stream was closed: the client goes on with its other requests.
    expect(await client.get('m')).to.equal('1');
  });

  it('reads the index of / : the node and its public routes, not the mesh ones', async () => {
    const index = await client.index();
    expect(index).to.include({ service: 'meshkv', docs: 'docs/api.md' });
    const paths = index.routes.map((route) => route.path);
    expect(paths).to.include.members(['/', '/set', '/get', '/status', '/healthcheck']);
    expect(paths.some((path) => path.startsWith('/_mesh') || path === '/ping')).to.equal(false);
    expect(index.routes.find((route) => route.path === '/set')?.methods).to.equal('GET');
  });

  it('throws a MeshKvError with the code, status and details of an error answer', async () => {
    let error: unknown;
    try {
      await client.set('much-too-long', 'v');
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(MeshKvError);
    expect(error).to.include({ status: 400, code: 'MAXIMUM_KEY_LENGTH_REACHED' });
    expect((error as MeshKvError).body).to.include({ maxKeyLength: 8 });
    try {
      await client.get('');
    } catch (caught) {
      error = caught;
    }
    expect(error).to.include({ code: 'EMPTY_KEY' });
  });

  it('speaks the nkvd ping with the mesh secret, and names a refusal without it', async () => {
    const withSecret = new MeshKvClient({ url, meshSecret: SECRET });
    try {
      const nodes = await withSecret.nkvdPing();
      expect(nodes).to.have.length(1);
      expect(nodes[0]).to.include({ isDown: false, state: 'alive' });
    } finally {
      await withSecret.close();
    }
    let error: unknown;
    try {
      await client.nkvdPing(['127.0.0.1:1']);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.include({ status: 401, code: 'UNAUTHORIZED' });
  });

  for (const transport of ['sse', 'websocket'] as const) {
    it(`watches a prefix over ${transport}; another watch continues after its last event`, async () => {
      const stream = client.watch({ prefix: 'w-' }, { transport, reconnectMs: 10 });
      await stream.opened;
      const start = stream.lastId;
      expect(start).to.be.a('string');
      await client.set('w-a', '1');
      await client.set('x', '1');
      const [first] = await take(stream, 1);
      expect(first).to.include({ type: 'set', k: 'w-a', v: '1' });
      expect(stream.lastId).to.equal(first?.id);
      stream.close();
      // Another stream after that id: only what came since.
      await client.rm('w-a');
      const again = client.watch({ prefix: 'w-', after: first?.id as string }, { transport });
      const [next] = await take(again, 1);
      expect(next).to.include({ type: 'rm', k: 'w-a' });
    });
  }

  it('polls /watch: at once without wait, with the id to continue after; 410 as a MeshKvError', async () => {
    const { events, next } = await client.poll();
    expect(events).to.deep.equal([]);
    await client.set('p-1', 'v');
    const answer = await client.poll({ prefix: 'p-', after: next, wait: '5s', limit: 10 });
    expect(answer.events.map((event) => [event.type, event.k])).to.deep.equal([['set', 'p-1']]);
    const expired = await client.poll({ after: 'zzzzzz.0-1' }).catch((error: unknown) => error);
    expect(expired).to.be.instanceOf(MeshKvError).with.property('status', 410);
    expect(await failureOf(client.watch({ after: 'zzzzzz.0-1' }, { transport: 'websocket' }))).to.be.instanceOf(StreamError).with.property('code', 'CURSOR_EXPIRED');
    expect(await failureOf(client.watch({ after: 'zzzzzz.0-1' }))).to.be.instanceOf(StreamError).with.property('status', 410);
  });

  it('publishes to subscribers over SSE and WebSocket, counting those it reached', async () => {
    const subscribers = [client.subscribe('news'), client.subscribe('news', { transport: 'websocket' })];
    await Promise.all(subscribers.map((subscriber) => subscriber.opened));
    expect(await client.publish('news', 'hello 𤭢')).to.equal(2);
    for (const subscriber of subscribers) expect(await take(subscriber, 1)).to.deep.equal([{ type: 'message', t: 'news', m: 'hello 𤭢' }]);
  });

  it('gives any answer as it came through request(), and maps a non-JSON error', async () => {
    const answer = await client.request('/nope', 'GET');
    expect(answer.status).to.equal(404);
    expect(JSON.parse(answer.text)).to.include({ error: 'NOT_FOUND' });
    const headless = await client.request('/healthcheck', 'HEAD');
    expect(headless).to.include({ status: 200, text: '' });
    let error: unknown;
    try {
      await client.status.call(Object.assign(Object.create(MeshKvClient.prototype) as MeshKvClient, { request: () => Promise.resolve({ status: 502, headers: {}, text: 'Bad Gateway' }) }));
    } catch (caught) {
      error = caught;
    }
    expect(error).to.include({ status: 502, code: 'HTTP_502', message: 'Bad Gateway' });
  });
});

describe('MeshKvClient with API keys', function () {
  this.timeout(20_000);
  const ADMIN = 'client-test-admin-key-0123';
  let node: ChildProcess;
  let admin: MeshKvClient;
  let url: string;

  before(async () => {
    ({ node, client: admin, url } = await spawnNode({ ADMIN_KEY: ADMIN }, { apiKey: ADMIN }));
  });

  after(() => stop(node, admin));

  it('makes, lists, reads and revokes keys; a tenant key sees its own keys only', async () => {
    const made = await admin.createKey({ name: 'shop', scopes: ['read', 'write'], tenant: 'shop', rate: 100 });
    expect(made).to.include({ name: 'shop', tenant: 'shop', rate: 100 });
    const shop = new MeshKvClient({ url, apiKey: made.key });
    try {
      await shop.set('a', '1');
      expect(await shop.keys()).to.deep.equal(['a']);
      expect(await admin.keys()).to.deep.equal(['shop/a']);
      expect(await shop.whoami()).to.deep.include({ id: made.id, tenant: 'shop', rate: { perSecond: 100, burst: 100 } });
      // What describes the whole node is not for a tenant's key.
      const refused = await shop.clusterPicture().then(() => undefined, (error: unknown) => error);
      expect(refused).to.be.instanceOf(MeshKvError).with.property('status', 403);
      expect((await admin.clusterPicture()).self.load.records).to.equal(1);
      expect((await admin.listKeys()).map((key) => key.id)).to.deep.equal([made.id]);
      expect(await admin.getKey(made.id)).to.include({ name: 'shop' });
      expect(await admin.getKey('000000000000')).to.equal(undefined);
      expect(await admin.setTenantQuota('shop', { maxKeys: 1 })).to.include({ tenant: 'shop', keys: 1, maxKeys: 1 });
      expect(await admin.tenants()).to.deep.equal([{ tenant: 'shop', keys: 1, bytes: 2, maxKeys: 1, maxBytes: 0 }]);
      expect(await admin.tenant('shop')).to.include({ keys: 1 });
      let error: unknown;
      try {
        await shop.set('b', '2');
      } catch (caught) {
        error = caught;
      }
      expect(error).to.include({ status: 403, code: 'QUOTA_EXCEEDED' });
      expect(await admin.revokeKey(made.id)).to.equal(true);
      expect(await admin.revokeKey(made.id)).to.equal(false);
      error = undefined;
      try {
        await shop.get('a');
      } catch (caught) {
        error = caught;
      }
      expect(error).to.include({ status: 401, code: 'UNAUTHORIZED' });
      for (const transport of ['sse', 'websocket'] as const) {
        const refused = await failureOf(shop.watch({}, { transport }));
        expect(refused, transport).to.be.instanceOf(StreamError).with.property('status', 401);
      }
    } finally {
      await shop.close();
    }
  });
});

describe('an EventStream whose node ends it', function () {
  this.timeout(30_000);

  for (const transport of ['sse', 'websocket'] as const) {
    it(`reconnects over ${transport} after the last event it had, and ends with 410 when the node restarted meanwhile`, async () => {
      const port = await freePort();
      let { node, client } = await spawnNode({ MESH_SECRET: SECRET }, { port });
      const watcher = new MeshKvClient({ url: `http://127.0.0.1:${port}` });
      const stream = watcher.watch({}, { transport, reconnectMs: 50 });
      const events: string[] = [];
      const ending = (async (): Promise<unknown> => {
        try {
          for await (const event of stream) events.push(event.type);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      await stream.opened;
      await client.set('a', '1');
      const deadline = Date.now() + 5000;
      while (events.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(events).to.deep.equal(['set']);
      await stop(node, client);
      ({ node, client } = await spawnNode({ MESH_SECRET: SECRET }, { port }));
      try {
        const error = await ending;
        expect(error, 'it came back, after its id of the node\'s previous run').to.be.instanceOf(StreamError);
        expect(error).to.include({ status: 410, code: 'CURSOR_EXPIRED' });
      } finally {
        await watcher.close();
        await stop(node, client);
      }
    });
  }
});
