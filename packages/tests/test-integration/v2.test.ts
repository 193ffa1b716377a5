import { expect } from 'chai';
import { type MeshKvClient, MeshKvError, paths } from '@meshkv/client';
import { call, clientOf, eventually, MESH_URLS, RUN, SERVICE_URL, skipUnlessListed } from './api';

/**
 * The routes of KV v2 (expiring keys, ETags, /meta, scans, /kv/{key}, batches) through the
 * typed client, against SERVICE_URL; skipped, saying so, by a service whose index does not
 * list them (another nkvd server). Expiry is waited for by polling, with a deadline.
 */
describe(`MeshKV v2 API at ${SERVICE_URL}`, function () {
  this.timeout(20_000);
  const client = clientOf(SERVICE_URL);
  const key = (name: string): string => `${RUN}-v2-${name}`;
  const all = { w: 'all' } as const;
  // A node other than the one that wrote judges an expiry by its clock corrected by the
  // offset it measured to the mesh (half a ping's round trip at worst): a few ms either way.
  const slack = 100;
  const codeOf = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof MeshKvError) return error.code;
      throw error;
    }
    return 'no error';
  };

  before(async function () {
    await skipUnlessListed(this, '/scan', 'v2 checks');
  });
  after(() => client.close());

  describe('expiring keys', () => {
    it('a key set with a ttl reads until it expires, then is missing everywhere', async () => {
      await client.set(key('soon'), 'v', { ttl: 400, ...all });
      const ttl = await client.ttl(key('soon'));
      expect(ttl).to.be.a('number').within(1, 400 + slack);
      await eventually(async () => (await client.get(key('soon'))) === undefined, 'the key to expire', 5000);
      expect(await client.is(key('soon'))).to.equal(false);
      expect(await client.ttl(key('soon'))).to.equal(undefined);
      expect(await client.keys(key('soon'))).to.deep.equal([]);
      expect((await client.scan({ prefix: key('soon') })).items).to.deep.equal([]);
    });

    it('ttl forms; INVALID_TTL with the limit', async () => {
      await client.set(key('units'), 'v', { ttl: '1.5h', ...all });
      expect(await client.ttl(key('units'))).to.be.within(5_000_000, 5_400_000 + slack);
      for (const ttl of ['0', '31d', 'soon', '1.5']) expect(await codeOf(client.set(key('bad'), 'v', { ttl })), ttl).to.equal('INVALID_TTL');
      const answer = await call(paths.set(key('bad'), 'v', { ttl: 0 }));
      expect(answer.status).to.equal(400);
      expect(answer.json()).to.have.property('maxTtlMs').a('number');
      expect(await client.get(key('bad'))).to.equal(undefined);
    });

    it('/expire, /persist and /ttl', async () => {
      await client.set(key('e'), 'v', all);
      expect(await client.ttl(key('e'))).to.equal(null);
      expect(await client.expire(key('e'), '1m', all)).to.equal(true);
      expect(await client.ttl(key('e'))).to.be.within(50_000, 60_000 + slack);
      expect(await client.persist(key('e'), all)).to.equal(true);
      expect(await client.ttl(key('e'))).to.equal(null);
      expect(await client.expire(key('never'), '1m')).to.equal(false);
      expect(await client.persist(key('never'))).to.equal(false);
      expect(await codeOf(client.expire(key('e'), 'x'))).to.equal('INVALID_TTL');
    });
  });

  describe('versions and /meta', () => {
    it('a write answers its ETag, reads carry the same one, the next write another', async () => {
      const tag = await client.set(key('tag'), 'one', all);
      expect(tag).to.match(/^"[^"]+"$/);
      expect((await call(paths.get(key('tag')))).header('etag')).to.equal(tag);
      expect((await call(paths.is(key('tag')))).header('etag')).to.equal(tag);
      expect((await client.read(key('tag')))?.etag).to.equal(tag);
      const meta = await client.meta(key('tag'), { value: true });
      expect(meta).to.deep.equal({ k: key('tag'), version: tag.slice(1, -1), ttlMs: null, size: 3, v: 'one' });
      expect(await client.set(key('tag'), 'one', all)).to.not.equal(tag);
      expect(await client.meta(key('none'))).to.equal(undefined);
    });
  });

  describe('ordered scans', () => {
    const prefix = `${RUN}-v2-scan/`;
    const names = ['b', 'a', 'a/x', 'é', '\uFFFD', '\u{1F600}', 'z'];
    // Code point order: U+1F600 after U+FFFD, though its UTF-16 units sort before.
    const ordered = ['a', 'a/x', 'b', 'z', 'é', '\uFFFD', '\u{1F600}'].map((name) => prefix + name);
    before(async () => {
      await client.batch(
        names.map((name) => ({ op: 'set', k: prefix + name, v: name })),
        all,
      );
    });

    it('pages of a prefix in code point order, continued from the last key', async () => {
      const keys: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 10; page++) {
        const got = await client.scanKeys({ prefix, limit: 3, ...(after === undefined ? {} : { after }) });
        keys.push(...got.items);
        if (got.next === null) break;
        after = got.next;
      }
      expect(keys).to.deep.equal(ordered);
      const values: string[] = [];
      for await (const item of client.scanAll({ prefix, limit: 2 })) values.push(item.v);
      expect(values).to.deep.equal(ordered.map((k) => k.slice(prefix.length)));
      expect(await client.keys(prefix)).to.deep.equal(ordered);
      expect(await codeOf(client.scan({ limit: 1001 }))).to.equal('INVALID_LIMIT');
    });
  });

  describe('/kv/{key}', () => {
    it('PUT a body, GET it as text, the nkvd routes see the same record, DELETE it', async () => {
      const k = `${key('rest')}/with/slashes`;
      const tag = await client.put(k, 'Zürich 😀', all);
      expect(await client.read(k)).to.deep.equal({ value: 'Zürich 😀', etag: tag });
      expect(await client.get(k)).to.equal('Zürich 😀');
      const head = await client.request(`/kv/${encodeURIComponent(k)}`, 'HEAD');
      expect(head.status).to.equal(200);
      expect(head.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(await client.delete(k, all)).to.equal(true);
      expect(await client.read(k)).to.equal(undefined);
      expect(await client.delete(k)).to.equal(false);
    });

    it('refuses a body that is not UTF-8 (400) or too long (413), storing nothing', async () => {
      const k = key('rest-bad');
      const status = await client.status();
      const invalid = await call(`/kv/${encodeURIComponent(k)}`, 'PUT', SERVICE_URL, { body: Buffer.from([0xc3, 0x28]) });
      expect(invalid.status).to.equal(400);
      expect(((await invalid.json()) as { error: string }).error).to.equal('INVALID_UTF8');
      expect(await codeOf(client.put(k, 'x'.repeat(status.maxValueLength + 1)))).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
      expect(await client.read(k)).to.equal(undefined);
    });
  });

  describe('POST /batch', () => {
    it('one result per operation, in order; a failing one fails alone', async () => {
      const results = await client.batch(
        [
          { op: 'set', k: key('b1'), v: '1' },
          { op: 'set', k: key('b2'), v: '2', ttl: '1h' },
          { op: 'rm', k: key('b1') },
          { op: 'rm', k: key('b-none') },
          { op: 'set', k: '', v: 'x' },
        ],
        all,
      );
      expect(results.map((result) => ('error' in result ? result.error : 'ok'))).to.deep.equal(['ok', 'ok', 'ok', 'MISSING_RECORD', 'EMPTY_KEY']);
      expect(await client.get(key('b1'))).to.equal(undefined);
      expect(await client.get(key('b2'))).to.equal('2');
      const malformed = await call('/batch', 'POST', SERVICE_URL, { body: '{"ops":[{"op":"get"}]}' });
      expect(malformed.status).to.equal(400);
    });
  });

  describe('across the mesh (MESH_URLS)', () => {
    const nodes = MESH_URLS.map((url) => clientOf(url));
    before(function () {
      if (nodes.length < 2) this.skip();
    });
    after(() => Promise.all(nodes.map((node) => node.close())));

    it('a key with a ttl written on one node expires on every node', async () => {
      const [first] = nodes as [MeshKvClient];
      await first.set(key('m-ttl'), 'v', { ttl: 800, w: 'all' });
      expect(await Promise.all(nodes.map((node) => node.get(key('m-ttl'))))).to.deep.equal(nodes.map(() => 'v'));
      await eventually(async () => (await Promise.all(nodes.map((node) => node.get(key('m-ttl'))))).every((v) => v === undefined), 'expired on every node', 5000);
    });

    it('an /expire on one node replicates, with the same version everywhere', async () => {
      const [first, second] = nodes as [MeshKvClient, MeshKvClient];
      await first.set(key('m-exp'), 'v', all);
      await second.expire(key('m-exp'), '10m', all);
      const metas = await Promise.all(nodes.map((node) => node.meta(key('m-exp'))));
      expect(new Set(metas.map((meta) => meta?.version)).size, 'one version').to.equal(1);
      for (const meta of metas) expect(meta?.ttlMs).to.be.within(500_000, 600_000);
    });

    it('a batch on one node replicates; every node gives the same scan pages', async () => {
      const [first] = nodes as [MeshKvClient];
      const prefix = `${key('m-batch')}/`;
      await first.batch(
        Array.from({ length: 50 }, (_, i) => ({ op: 'set' as const, k: `${prefix}${String(i).padStart(2, '0')}`, v: String(i) })),
        all,
      );
      const pages = await Promise.all(nodes.map((node) => node.scan({ prefix, limit: 20, after: `${prefix}10` })));
      for (const page of pages) expect(page).to.deep.equal(pages[0]);
      expect(pages[0]?.items).to.have.length(20);
      expect(pages[0]?.next).to.equal(`${prefix}30`);
    });
  });
});
