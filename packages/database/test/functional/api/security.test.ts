import * as http from 'node:http';
import { expect } from 'chai';
import { post, type Reply, request } from '../../helpers/http';
import { startTestNode, type TestNode } from '../../helpers/node';

const ADMIN = 'admin-key-0123456789abcdef';

/** API keys, scopes, tenants, rate limits and quotas on one real node with ADMIN_KEY set. */
describe('security: API keys, tenants, rate limits, quotas', () => {
  let t: TestNode;
  const clock = { offsetMs: 0 };
  beforeEach(async () => {
    clock.offsetMs = 0;
    t = await startTestNode({ ADMIN_KEY: ADMIN }, clock);
  });
  afterEach(() => t.close());

  const as = (key: string | undefined, target: string, options: { method?: string; body?: string } = {}): Promise<Reply> =>
    request(t.url, target, { ...options, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  const ok = async (key: string, target: string, options: { method?: string; body?: string } = {}): Promise<unknown> => {
    const reply = await as(key, target, options);
    expect(reply.status, `${target}: ${reply.text}`).to.be.within(200, 299);
    return reply.text === '' ? undefined : reply.json();
  };
  const refused = async (key: string | undefined, target: string, status: number, code: string, options: { method?: string; body?: string } = {}): Promise<Reply> => {
    const reply = await as(key, target, options);
    expect(reply.status, `${target}: ${reply.text}`).to.equal(status);
    expect((reply.json() as { error: string }).error).to.equal(code);
    return reply;
  };
  const makeKey = async (query: string): Promise<{ id: string; key: string }> => (await ok(ADMIN, `/admin/keys/create?${query}`)) as { id: string; key: string };

  it('asks every public route for a key (401 with WWW-Authenticate), except /healthcheck', async () => {
    const routes = t.node.router.list().filter((route) => !['open', 'mesh'].includes(route.access('GET')) || route.access('PUT') === 'write');
    expect(routes.length).to.be.greaterThan(20);
    for (const route of routes) {
      const path = route.prefix ? `${route.path}x` : route.path;
      const method = [...route.methods][0] as string;
      for (const key of [undefined, 'not-a-key', 'mkv_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', `${ADMIN}x`]) {
        const reply = await refused(key, path, 401, 'UNAUTHORIZED', { method });
        expect(reply.headers['www-authenticate'], path).to.match(/^Bearer realm="meshkv"/);
      }
    }
    expect((await as(undefined, '/healthcheck')).status).to.equal(200);
    expect((await as(undefined, '/ping', { method: 'GET' })).status, 'mesh routes keep their own check').to.not.equal(401);
  });

  it('takes the key as a bearer token or as key= in the query', async () => {
    await ok(ADMIN, '/set?k=a&v=1');
    expect((await request(t.url, `/get?k=a&key=${ADMIN}`)).text).to.equal('"1"');
    expect((await request(t.url, '/get?k=a', { headers: { authorization: `bearer ${ADMIN}` } })).status).to.equal(200);
    await ok(ADMIN, '/status');
    expect(await ok(ADMIN, '/whoami')).to.include({ id: 'admin', tenant: null });
  });

  it('makes keys whose scopes decide what they may do (403 FORBIDDEN otherwise), shown once, listed without secrets', async () => {
    const reader = await makeKey('name=reader&scopes=read');
    const writer = await makeKey('name=writer&scopes=write');
    expect(reader.key).to.match(/^mkv_[0-9a-f]{12}_/);
    await ok(writer.key, '/set?k=a&v=1');
    expect(await ok(reader.key, '/get?k=a')).to.equal('1');
    expect((await refused(reader.key, '/set?k=a&v=2', 403, 'FORBIDDEN')).json()).to.include({ scope: 'write' });
    await refused(writer.key, '/get?k=a', 403, 'FORBIDDEN');
    await refused(reader.key, '/admin/keys/list', 403, 'FORBIDDEN');
    await ok(reader.key, '/status');
    const listed = JSON.stringify(await ok(ADMIN, '/admin/keys/list'));
    expect(listed).to.include(reader.id).and.include('"writer"');
    expect(listed).to.not.include(reader.key.slice(17)).and.not.include('hash').and.not.include('salt');
    expect(await ok(reader.key, '/whoami')).to.deep.include({ id: reader.id, name: 'reader', scopes: ['read'], tenant: null });
  });

  it('refuses key specs it cannot take, with 400 INVALID_PARAMETER', async () => {
    for (const query of ['scopes=read', 'name=', 'name=a&scopes=root', 'name=a&scopes=', 'name=a&tenant=../x', 'name=a&tenant=a/b', 'name=a&scopes=admin&tenant=t', 'name=a&rate=0', 'name=a&rate=x', `name=${'n'.repeat(65)}`, 'name=a%0Ab']) {
      await refused(ADMIN, `/admin/keys/create?${query}`, 400, 'INVALID_PARAMETER');
    }
    await refused(ADMIN, '/admin/keys/revoke', 400, 'INVALID_PARAMETER');
    await refused(ADMIN, '/admin/keys/revoke?id=000000000000', 404, 'MISSING_RECORD');
  });

  it('revokes a key: it fails at once', async () => {
    const key = await makeKey('name=app');
    await ok(key.key, '/set?k=a&v=1');
    await ok(ADMIN, `/admin/keys/revoke?id=${key.id}`);
    await refused(key.key, '/get?k=a', 401, 'UNAUTHORIZED');
    expect(JSON.stringify(await ok(ADMIN, '/admin/keys/list'))).to.not.include(key.id);
  });

  it('tells each request of one keep-alive connection by its own key: another key, a wrong one, a revoked one', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let connections = 0;
    const connect = agent.createConnection.bind(agent);
    agent.createConnection = (...args: Parameters<typeof connect>) => {
      connections++;
      return connect(...args);
    };
    const on = (key: string, target: string): Promise<Reply> => request(t.url, target, { agent, headers: { authorization: `Bearer ${key}` } });
    try {
      const reader = await makeKey('name=reader&scopes=read');
      const writer = await makeKey('name=writer&scopes=write');
      expect((await on(writer.key, '/set?k=a&v=1')).status).to.equal(200);
      expect((await on(reader.key, '/set?k=a&v=2')).status).to.equal(403);
      expect((await on(reader.key, '/get?k=a')).text).to.equal('"1"');
      expect((await on(`${reader.key}x`, '/get?k=a')).status).to.equal(401);
      expect((await on(reader.key, '/get?k=a')).status).to.equal(200);
      await ok(ADMIN, `/admin/keys/revoke?id=${reader.id}`);
      expect((await on(reader.key, '/get?k=a')).status, 'revoked, on the connection that used it').to.equal(401);
      expect(connections, 'one connection throughout').to.equal(1);
    } finally {
      agent.destroy();
    }
  });

  it('has REST forms: POST /admin/keys, GET and DELETE /admin/keys/{id}, PUT /admin/tenants/{tenant}', async () => {
    const made = await post(t.url, '/admin/keys', JSON.stringify({ name: 'rest', scopes: ['read', 'write'], tenant: 'shop' }), { authorization: `Bearer ${ADMIN}` });
    expect(made.status, made.text).to.equal(201);
    const { id, key } = made.json() as { id: string; key: string };
    expect(await ok(ADMIN, `/admin/keys/${id}`)).to.include({ id, name: 'rest', tenant: 'shop' });
    expect((await ok(ADMIN, '/admin/keys'))).to.have.property('keys').with.length(1);
    expect(await ok(ADMIN, '/admin/tenants/shop', { method: 'PUT', body: '{"maxKeys":5}' })).to.include({ tenant: 'shop', maxKeys: 5 });
    expect(await ok(ADMIN, '/admin/tenants')).to.deep.equal({ tenants: [{ tenant: 'shop', keys: 0, bytes: 0, maxKeys: 5, maxBytes: 0 }] });
    await ok(ADMIN, `/admin/keys/${id}`, { method: 'DELETE' });
    await refused(key, '/whoami', 401, 'UNAUTHORIZED');
    const bad = await post(t.url, '/admin/keys', '[1]', { authorization: `Bearer ${ADMIN}` });
    expect(bad.status).to.equal(400);
  });

  describe('tenants', () => {
    it('see only their own keys, written, read, listed and scanned without the prefix', async () => {
      const one = await makeKey('name=one&tenant=t1');
      const two = await makeKey('name=two&tenant=t2');
      await ok(one.key, '/set?k=a&v=one');
      await ok(two.key, '/set?k=a&v=two');
      await ok(one.key, '/kv/b', { method: 'PUT', body: 'bee' });
      expect(await ok(one.key, '/get?k=a')).to.equal('one');
      expect(await ok(two.key, '/get?k=a')).to.equal('two');
      expect(await ok(one.key, '/getKeys')).to.deep.equal(['a', 'b']);
      expect(await ok(one.key, '/getAll')).to.deep.equal([{ k: 'a', v: 'one' }, { k: 'b', v: 'bee' }]);
      expect(await ok(one.key, '/scan?limit=1')).to.deep.equal({ items: [{ k: 'a', v: 'one' }], next: 'a' });
      expect(await ok(one.key, '/scan?after=a')).to.deep.equal({ items: [{ k: 'b', v: 'bee' }], next: null });
      expect(await ok(one.key, '/meta?k=a')).to.include({ k: 'a' });
      expect((await as(one.key, '/kv/a')).text).to.equal('one');
      expect(await ok(ADMIN, '/getKeys?prefix=t')).to.have.members(['t1/a', 't1/b', 't2/a']);
      expect(await ok(ADMIN, '/get?k=t1%2Fa')).to.equal('one');
    });

    it('cannot reach another tenant, whatever the key looks like', async () => {
      const one = await makeKey('name=one&tenant=t1');
      const two = await makeKey('name=two&tenant=t2');
      await ok(two.key, '/set?k=secret&v=two');
      await ok(ADMIN, '/set?k=top&v=admin');
      const escapes = ['../t2/secret', '..%2Ft2%2Fsecret', '%2e%2e%2ft2%2fsecret', '/t2/secret', 't2/secret', '/', '%2F', '..', '\\t2\\secret', '%00t2/secret'];
      // A lone surrogate cannot be written in a URL: its UTF-8-like escape is refused.
      await refused(one.key, '/set?k=%ED%A0%80key/x&v=1', 400, 'MALFORMED_QUERY');
      await refused(one.key, '/get?k=%ED%A0%80key/x', 400, 'MALFORMED_QUERY');
      for (const key of escapes) {
        await refused(one.key, `/get?k=${key}`, 404, 'MISSING_RECORD');
        expect((await as(one.key, `/kv/${key}`)).status, key).to.be.oneOf([400, 404]);
      }
      for (const key of escapes) await ok(one.key, `/set?k=${key}&v=mine`);
      for (const key of escapes) await ok(one.key, `/rm?k=${key}`).catch(() => undefined);
      for (const key of escapes) await ok(one.key, `/set?k=${key}&v=mine`);
      await refused(one.key, '/get?k=top', 404, 'MISSING_RECORD');
      await refused(one.key, '/get?k=', 400, 'EMPTY_KEY');
      expect(await ok(two.key, '/getAll')).to.deep.equal([{ k: 'secret', v: 'two' }]);
      expect(await ok(two.key, '/scan?prefix=&values=0')).to.deep.equal({ items: ['secret'], next: null });
      // Everything t1 wrote is under t1/: the admin sees where it went.
      const all = (await ok(ADMIN, '/getKeys')) as string[];
      expect(all.filter((key) => !key.startsWith('t1/'))).to.have.members(['t2/secret', 'top']);
      expect(await ok(ADMIN, '/get?k=t2%2Fsecret')).to.equal('two');
      // A batch cannot name the node's own records either.
      const batch = await post(t.url, '/batch', JSON.stringify({ ops: [{ op: 'set', k: '\ud800key/x', v: '1' }, { op: 'rm', k: '../t2/secret' }] }), { authorization: `Bearer ${one.key}` });
      expect(batch.json()).to.deep.equal({ results: [{ error: 'INVALID_KEY', message: (batch.json() as { results: { message: string }[] }).results[0]?.message }, { success: true }] });
      expect(await ok(two.key, '/get?k=secret')).to.equal('two');
    });

    it('/clear with a tenant key clears that tenant only, and a later write survives', async () => {
      const one = await makeKey('name=one&tenant=t1');
      const two = await makeKey('name=two&tenant=t2');
      await ok(one.key, '/set?k=a&v=1');
      await ok(two.key, '/set?k=a&v=2');
      await ok(ADMIN, '/set?k=top&v=3');
      await ok(one.key, '/clear');
      expect(await ok(one.key, '/getKeys')).to.deep.equal([]);
      expect(await ok(two.key, '/getKeys')).to.deep.equal(['a']);
      expect(await ok(ADMIN, '/getKeys')).to.have.members(['t2/a', 'top']);
      await ok(one.key, '/set?k=b&v=after');
      expect(await ok(one.key, '/getAll')).to.deep.equal([{ k: 'b', v: 'after' }]);
      expect((await ok(ADMIN, '/status'))).to.have.property('availableRecords', 3);
    });
  });

  it('limits a key with a rate: 429 RATE_LIMITED with Retry-After, and obeying it succeeds', async () => {
    const key = await makeKey('name=slow&rate=2');
    await ok(key.key, '/set?k=a&v=1');
    await ok(key.key, '/get?k=a');
    await ok(key.key, '/get?k=a');
    const limited = await refused(key.key, '/get?k=a', 429, 'RATE_LIMITED');
    expect(limited.headers['retry-after']).to.equal('1');
    expect(limited.json()).to.include({ category: 'read', limit: 2, burst: 2, retryAfterS: 1 });
    await ok(key.key, '/set?k=b&v=1');
    clock.offsetMs += Number(limited.headers['retry-after']) * 1000;
    await ok(key.key, '/get?k=a');
    expect(((await ok(key.key, '/whoami')) as { rate: unknown }).rate).to.deep.equal({ perSecond: 2, burst: 2 });
  });

  it('keeps a tenant within its quotas: 403 QUOTA_EXCEEDED past one, reads and deletes go on, room comes back', async () => {
    const key = await makeKey('name=q&tenant=q');
    await ok(ADMIN, '/admin/tenants/set?tenant=q&maxKeys=2&maxBytes=12');
    await ok(key.key, '/set?k=a&v=1');
    await ok(key.key, '/set?k=b&v=1');
    expect((await refused(key.key, '/set?k=c&v=1', 403, 'QUOTA_EXCEEDED')).json()).to.include({ quota: 'keys', limit: 2, used: 2 });
    await ok(key.key, '/set?k=a&v=2');
    expect((await refused(key.key, '/set?k=a&v=0123456789', 403, 'QUOTA_EXCEEDED')).json()).to.include({ quota: 'bytes', limit: 12, used: 4 });
    await refused(key.key, '/kv/c', 403, 'QUOTA_EXCEEDED', { method: 'PUT', body: 'x' });
    expect(await ok(key.key, '/get?k=b')).to.equal('1');
    await ok(key.key, '/rm?k=b');
    await ok(key.key, '/set?k=c&v=1');
    expect(await ok(key.key, '/whoami')).to.have.property('usage').that.deep.equals({ tenant: 'q', keys: 2, bytes: 4, maxKeys: 2, maxBytes: 12 });
  });
});

describe('security: without ADMIN_KEY', () => {
  let t: TestNode;
  before(async () => (t = await startTestNode()));
  after(() => t.close());

  it('leaves every route open and makes no key', async () => {
    expect((await t.get('/set?k=a&v=1')).status).to.equal(200);
    expect((await t.get('/status')).status).to.equal(200);
    expect((await t.get('/whoami')).json()).to.include({ id: null, keysRequired: false });
    const reply = await t.get('/admin/keys/create?name=x');
    expect(reply.status).to.equal(403);
    expect(reply.json()).to.include({ error: 'FORBIDDEN', keysRequired: false });
  });
});
