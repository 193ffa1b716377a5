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
