import { expect } from 'chai';
import type { CreatedKey, KeySpec, NodeIndex } from '@meshkv/client';
import { call, clientOf, MESH_URLS, q, RUN, SERVICE_KEY, SERVICE_URL } from './api';

/**
 * API keys, scopes, tenants, rate limits and quotas, when SERVICE_KEY is an admin key of
 * nodes that require keys (ADMIN_KEY); skipped, saying so, otherwise. With MESH_URLS the
 * revocation and the tenant clear are checked on every node.
 */
// Without a key there is nothing to check (and no pending tests to report): said once.
if (SERVICE_KEY === undefined) process.stdout.write('\n  security checks skipped: set SERVICE_KEY to an admin key of nodes with ADMIN_KEY to run them\n');
else describe(`security at ${SERVICE_URL}`, function () {
  this.timeout(30_000);
  const admin = clientOf(SERVICE_URL);
  const made: CreatedKey[] = [];
  /** One node's URL: rate limits are per node, and a balancer spreads connections. */
  const oneNode = MESH_URLS[0] ?? SERVICE_URL;
  const everyNode = MESH_URLS.length > 0 ? MESH_URLS : [SERVICE_URL];
  const tenant = (name: string): string => `${RUN}${name}`.slice(0, 32);

  before(async function () {
    const whoami = await admin.whoami().catch(() => undefined);
    if (whoami === undefined || whoami.id === null || !(whoami.scopes ?? []).includes('admin')) {
      process.stdout.write('\n  security checks skipped: SERVICE_KEY is not an admin key of nodes with ADMIN_KEY\n');
      this.skip();
    }
  });
  after(async () => {
    for (const key of made) await admin.revokeKey(key.id).catch(() => undefined);
    await admin.close();
  });

  const makeKey = async (spec: KeySpec): Promise<CreatedKey> => {
    const key = await admin.createKey(spec, { w: 'all' });
    made.push(key);
    return key;
  };
  const statusOf = async (path: string, key: string | null, base = SERVICE_URL, method = 'GET'): Promise<[number, string]> => {
    const answer = await call(path, method, base, { key });
    return [answer.status, answer.status >= 400 ? (answer.json() as { error: string }).error : answer.text];
  };

  it('every route of the index refuses a request without a key, or with a wrong one (401, WWW-Authenticate); /healthcheck and the page\'s files stay open', async () => {
    const index = (await call('/')).json() as NodeIndex;
    expect(index.routes.length).to.be.greaterThan(20);
    // The cluster page's files hold no data: its data comes from /ui/events, which takes a key.
    const open = ['/healthcheck', '/ready', '/ui', '/ui/{file}'];
    for (const route of index.routes.filter((r) => !open.includes(r.path))) {
      const path = route.path.replace(/\{[a-z]+\}/, 'x');
      const method = route.methods.split(', ')[0] as string;
      for (const key of [null, 'wrong', `mkv_000000000000_${'A'.repeat(43)}`]) {
        const answer = await call(path, method, SERVICE_URL, { key });
        expect(answer.status, `${method} ${path} with ${key ?? 'no key'}`).to.equal(401);
        expect(answer.header('www-authenticate')).to.match(/^Bearer realm="meshkv"/);
      }
    }
    expect((await call('/healthcheck', 'GET', SERVICE_URL, { key: null })).status).to.equal(200);
    if (index.routes.some((route) => route.path === '/ui')) {
      expect((await call('/ui', 'GET', SERVICE_URL, { key: null })).status).to.equal(200);
      expect((await call('/ui/app.js', 'GET', SERVICE_URL, { key: null })).status).to.equal(200);
    }
  });

  it('a key may do what its scopes allow, and nothing else (403 FORBIDDEN)', async () => {
    const reader = await makeKey({ name: `${RUN}-reader`, scopes: ['read'] });
    const writer = await makeKey({ name: `${RUN}-writer`, scopes: ['write'] });
    const k = q(`${RUN}-scoped`);
    expect(await statusOf(`/set?k=${k}&v=1&w=all`, writer.key)).to.deep.equal([200, '{"success":true}']);
    expect(await statusOf(`/get?k=${k}`, reader.key)).to.deep.equal([200, '"1"']);
    expect(await statusOf(`/set?k=${k}&v=2`, reader.key)).to.deep.equal([403, 'FORBIDDEN']);
    expect(await statusOf(`/get?k=${k}`, writer.key)).to.deep.equal([403, 'FORBIDDEN']);
    expect(await statusOf('/admin/keys/list', reader.key)).to.deep.equal([403, 'FORBIDDEN']);
    expect((await call(`/get?k=${k}&key=${reader.key}`, 'GET', SERVICE_URL, { key: null })).text).to.equal('"1"');
  });

  it('a tenant sees only its own keys, whatever the key looks like', async () => {
    const [a, b] = [tenant('a'), tenant('b')];
    const one = await makeKey({ name: `${RUN}-one`, tenant: a });
    const two = await makeKey({ name: `${RUN}-two`, tenant: b });
    const clientOne = clientOf(SERVICE_URL, one.key);
    const clientTwo = clientOf(SERVICE_URL, two.key);
    try {
      await clientTwo.set('secret', 'two', { w: 'all' });
      for (const key of ['../secret', `../${b}/secret`, `/${b}/secret`, `${b}/secret`, '/', '..', '\\secret']) {
        expect(await clientOne.get(key), key).to.equal(undefined);
        expect(await clientOne.read(key), key).to.equal(undefined);
        await clientOne.set(key, 'mine', { w: 'all' });
      }
      expect(await statusOf(`/kv/..%2F${b}%2Fsecret`, one.key)).to.deep.equal([200, 'mine']);
      expect(await clientTwo.all()).to.deep.equal([{ k: 'secret', v: 'two' }]);
      expect((await clientTwo.scanKeys()).items).to.deep.equal(['secret']);
      expect(await admin.get(`${b}/secret`)).to.equal('two');
      expect((await clientOne.keys()).length).to.equal(7);
      expect(await admin.keys(`${a}/`)).to.have.length(7);
    } finally {
      await Promise.all([clientOne.close(), clientTwo.close()]);
    }
  });

  it('/clear with a tenant key clears that tenant only, on every node, and a later write survives', async () => {
    const [a, b] = [tenant('c'), tenant('d')];
    const one = await makeKey({ name: `${RUN}-c`, tenant: a });
    const two = await makeKey({ name: `${RUN}-d`, tenant: b });
    const clientOne = clientOf(SERVICE_URL, one.key);
    const clientTwo = clientOf(SERVICE_URL, two.key);
    try {
      await clientOne.set('x', '1', { w: 'all' });
      await clientTwo.set('x', '2', { w: 'all' });
      await clientOne.clear({ w: 'all' });
      await clientOne.set('after', '3', { w: 'all' });
      for (const url of everyNode) {
        const node = clientOf(url, one.key);
        const other = clientOf(url, two.key);
        expect(await node.keys(), url).to.deep.equal(['after']);
        expect(await other.keys(), url).to.deep.equal(['x']);
        await Promise.all([node.close(), other.close()]);
      }
    } finally {
      await Promise.all([clientOne.close(), clientTwo.close()]);
    }
  });

  it('a revoked key fails on every node as soon as the revoke is answered', async () => {
    const key = await makeKey({ name: `${RUN}-revoked` });
    for (const url of everyNode) expect(await statusOf('/whoami', key.key, url), url).to.have.property('0', 200);
    expect(await admin.revokeKey(key.id)).to.equal(true);
    for (const url of everyNode) expect(await statusOf('/whoami', key.key, url), url).to.deep.equal([401, 'UNAUTHORIZED']);
  });

  it('past its rate a key gets 429 with Retry-After; after waiting that long it passes', async () => {
    const key = await makeKey({ name: `${RUN}-rate`, rate: 1 });
    // Limits are per node: behind a balancer the requests spread, so send until one node has had two.
    let limited = await call('/whoami', 'GET', oneNode, { key: key.key });
    for (let sent = 1; limited.status === 200 && sent < 20; sent++) limited = await call('/whoami', 'GET', oneNode, { key: key.key });
    expect(limited.status).to.equal(429);
    expect((limited.json() as { error: string }).error).to.equal('RATE_LIMITED');
    const seconds = Number(limited.header('retry-after'));
    expect(seconds).to.be.within(1, 2);
    // Obeying the answer is the behaviour under test: the wait is the one it asks for.
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    expect((await call('/whoami', 'GET', oneNode, { key: key.key })).status).to.equal(200);
  });

  it('a tenant past its quota gets 403 QUOTA_EXCEEDED for writes; reads and deletes go on; deleting makes room', async () => {
    const name = tenant('q');
    const key = await makeKey({ name: `${RUN}-quota`, tenant: name });
    await admin.setTenantQuota(name, { maxKeys: 2 }, { w: 'all' });
    const client = clientOf(SERVICE_URL, key.key);
    try {
      await client.set('a', '1', { w: 'all' });
      await client.set('b', '2', { w: 'all' });
      const refused = await call('/set?k=c&v=3', 'GET', SERVICE_URL, { key: key.key });
      expect(refused.status).to.equal(403);
      expect(refused.json()).to.include({ error: 'QUOTA_EXCEEDED', quota: 'keys', limit: 2, used: 2 });
      expect(await client.get('a')).to.equal('1');
      expect(await client.rm('a', { w: 'all' })).to.equal(true);
      await client.set('c', '3', { w: 'all' });
      expect(await client.whoami()).to.have.property('usage').that.includes({ keys: 2, maxKeys: 2 });
    } finally {
      await admin.setTenantQuota(name, { maxKeys: 0 }).catch(() => undefined);
      await client.close();
    }
  });

  it('no secret appears in /status or in key lists', async () => {
    const key = await makeKey({ name: `${RUN}-secret` });
    // mkv_<id>_<secret>: the id is hex, the secret base64url (it may hold '_' itself).
    const secret = key.key.split('_').slice(2).join('_');
    expect(secret, 'the whole secret').to.have.length(43);
    for (const url of everyNode) {
      const status = (await call('/status', 'GET', url)).text;
      expect(status).to.not.include(secret);
      if (SERVICE_KEY !== undefined) expect(status).to.not.include(SERVICE_KEY);
    }
    expect(JSON.stringify(await admin.listKeys())).to.not.include(secret);
  });
});
