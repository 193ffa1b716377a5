import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { MeshKvClient, MeshKvError } from '../../src/client';

/** The built database node of this repository (`npm run build` makes it before the tests). */
const NODE_ENTRY = path.join(__dirname, '..', '..', '..', '..', 'database', 'dist', 'main.js');
const SECRET = 'client-test-secret';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('MeshKvClient against a real node process', function () {
  this.timeout(20_000);
  let node: ChildProcess;
  let client: MeshKvClient;
  let url: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    node = spawn(process.execPath, [NODE_ENTRY], {
      env: { PATH: process.env.PATH ?? '', PORT: String(port), BIND_ADDRESS: '127.0.0.1', HOSTNAME: 'client-test', LOG_LEVEL: 'warn', MESH_SECRET: SECRET, MAX_KEY_LENGTH: '8' },
      stdio: 'ignore',
    });
    client = new MeshKvClient({ url, timeoutMs: 2000 });
    const deadline = Date.now() + 10_000;
    while (!(await client.healthy().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`the node at ${url} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });

  after(async () => {
    await client.close();
    node.kill('SIGTERM');
    await new Promise((resolve) => node.once('close', resolve));
  });

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
