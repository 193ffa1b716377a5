import { expect } from 'chai';
import { paths } from '@meshkv/client';
import { call, q, raw, RUN, SERVICE_URL } from './api';

/**
 * The public API, checked against SERVICE_URL: a node, the balancer, or any nkvd-compatible
 * service. Writes use keys of this run only, with w=all (ignored by services that do not
 * know it) so a read through a balancer sees them on any node. `/clear` is checked last;
 * INTEGRATION_NO_CLEAR=1 skips it for a deployment whose data must stay.
 */
describe(`MeshKV API at ${SERVICE_URL}`, function () {
  this.timeout(20_000);
  let maxKey = 64;
  let maxValue = 256;
  const key = (name: string): string => `${RUN}-${name}`;
  const set = (k: string, v: string) => call(paths.set(k, v, { w: 'all' }));
  const get = (k: string) => call(paths.get(k));
  const errorOf = (answer: { json(): unknown }) => (answer.json() as { error: string }).error;

  before(async () => {
    // Fails here, loudly, when nothing answers: no test is skipped silently.
    const health = await call(paths.healthcheck()).catch((error: Error) => {
      throw new Error(`Nothing answers at SERVICE_URL=${SERVICE_URL}: ${error.message}`);
    });
    expect(health.status, `/healthcheck at ${SERVICE_URL}`).to.equal(200);
    const status = (await call(paths.status())).json() as { maxKeyLength: number; maxValueLength: number };
    maxKey = status.maxKeyLength;
    maxValue = status.maxValueLength;
  });

  describe('health and status', () => {
    it('/healthcheck answers {"status":"ok"} as JSON', async () => {
      const answer = await call(paths.healthcheck());
      expect(answer.json()).to.deep.equal({ status: 'ok' });
      expect(answer.header('content-type')).to.equal('application/json; charset=utf-8');
    });

    it('/ready answers {"status":"ready"} on a node that takes traffic, open without a key (MeshKV; another nkvd server may answer 404)', async function () {
      const answer = await call(paths.ready(), 'GET', SERVICE_URL, { key: null });
      if (answer.status === 404) this.skip();
      expect(answer.status).to.equal(200);
      expect(answer.json()).to.deep.equal({ status: 'ready' });
      expect(answer.header('content-type')).to.equal('application/json; charset=utf-8');
    });

    it('/ lists the public routes (MeshKV; another nkvd server may answer 404)', async function () {
      const answer = await call(paths.index());
      if (answer.status === 404) this.skip();
      const index = answer.json() as { service: string; routes: { path: string }[] };
      expect(index.service).to.equal('meshkv');
      expect(index.routes.map((route) => route.path)).to.include.members(['/set', '/get', '/rm', '/getAll', '/status']);
    });

    it('/status describes the node, with types', async () => {
      const status = (await call(paths.status())).json() as Record<string, unknown>;
      expect(status.version).to.be.a('string');
      expect(status.hostname).to.be.a('string');
      expect(status.port).to.be.a('number');
      expect(status.maxKeyLength).to.be.a('number').and.at.least(1);
      expect(status.maxValueLength).to.be.a('number').and.at.least(0);
      expect(status.availableRecords).to.be.a('number').and.at.least(0);
      expect(status.nodeId).to.be.a('string');
      expect(status.peers).to.be.an('array');
      expect(status.ready).to.be.a('boolean');
    });
  });

  describe('set, get, is, rm', () => {
    it('acknowledges a write with w=majority (more than half of the nodes) and reads it back', async () => {
      expect((await call(paths.set(key('majority'), 'm', { w: 'majority' }))).json()).to.deep.equal({ success: true });
      expect((await get(key('majority'))).json()).to.equal('m');
    });

    it('stores a value and reads it back as a JSON string', async () => {
      expect((await set(key('a'), 'hello')).json()).to.deep.equal({ success: true });
      const answer = await get(key('a'));
      expect(answer.status).to.equal(200);
      expect(answer.json()).to.equal('hello');
      expect(answer.header('content-type')).to.equal('application/json; charset=utf-8');
    });

    it('overwrites, and keeps an empty value as ""', async () => {
      await set(key('b'), 'first');
      await set(key('b'), '');
      expect((await get(key('b'))).json()).to.equal('');
    });

    it('/is says whether a key holds a value', async () => {
      await set(key('c'), 'x');
      expect((await call(paths.is(key('c')))).json()).to.deep.equal({ success: true });
      const missing = await call(paths.is(key('never')));
      expect(missing.status).to.equal(404);
      expect(errorOf(missing)).to.equal('MISSING_RECORD');
    });

    it('/rm removes, and a second /rm or a /get is a 404 MISSING_RECORD', async () => {
      await set(key('d'), 'x');
      expect((await call(paths.rm(key('d'), { w: 'all' }))).json()).to.deep.equal({ success: true });
      for (const path of [`/rm?k=${q(key('d'))}`, `/get?k=${q(key('d'))}`]) {
        const answer = await call(path);
        expect(answer.status, path).to.equal(404);
        expect(answer.json()).to.deep.include({ error: 'MISSING_RECORD' });
        expect((answer.json() as { message: string }).message).to.be.a('string').and.not.equal('');
      }
    });
  });

  describe('errors, in their order', () => {
    const cases: [string, string, number][] = [
      ['/set', 'MISSING_KEY_PARAM', 400],
      ['/set?v=1', 'MISSING_KEY_PARAM', 400],
      ['/set?k=', 'EMPTY_KEY', 400],
      ['/set?k=&v=1', 'EMPTY_KEY', 400],
      ['/set?k=a', 'MISSING_VALUE_PARAM', 400],
      ['/get', 'MISSING_KEY_PARAM', 400],
      ['/get?k=', 'EMPTY_KEY', 400],
      ['/rm', 'MISSING_KEY_PARAM', 400],
      ['/is?k=', 'EMPTY_KEY', 400],
    ];
    for (const [path, code, status] of cases) {
      it(`${path} -> ${status} ${code}`, async () => {
        const answer = await call(path);
        expect(answer.status).to.equal(status);
        expect(errorOf(answer)).to.equal(code);
      });
    }

    it('checks the key length before a missing value, and the value length last', async () => {
      const long = 'k'.repeat(maxKey + 1);
      expect(errorOf(await call(`/set?k=${long}`))).to.equal('MAXIMUM_KEY_LENGTH_REACHED');
      expect(errorOf(await call(`/set?k=${long}&v=${'v'.repeat(maxValue + 1)}`))).to.equal('MAXIMUM_KEY_LENGTH_REACHED');
      expect(errorOf(await call(`/set?k=${key('e')}&v=${'v'.repeat(maxValue + 1)}`))).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
    });
  });

  describe('exact limits (read from /status)', () => {
    it('takes a key of exactly the maximum length and refuses one more character', async () => {
      const exact = `${RUN}-`.padEnd(maxKey, 'k');
      expect((await set(exact, 'v')).status).to.equal(200);
      expect((await get(exact)).json()).to.equal('v');
      expect(errorOf(await set(`${exact}k`, 'v'))).to.equal('MAXIMUM_KEY_LENGTH_REACHED');
    });

    it('takes a value of exactly the maximum length and refuses one more character', async () => {
      const exact = 'v'.repeat(maxValue);
      expect((await set(key('max-value'), exact)).status).to.equal(200);
      expect((await get(key('max-value'))).json()).to.equal(exact);
      expect(errorOf(await set(key('max-value'), `${exact}v`))).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
    });

    it('counts characters, not bytes or UTF-16 units: astral characters count once', async () => {
      const astral = '𤭢'.repeat(maxValue);
      expect((await set(key('astral-max'), astral)).status).to.equal(200);
      expect((await get(key('astral-max'))).json()).to.equal(astral);
      expect(errorOf(await set(key('astral-max'), `${astral}𤭢`))).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
    });
  });

  describe('characters and odd keys', () => {
    it('round-trips UTF-8 keys and astral values', async () => {
      for (const [k, v] of [
        [key('✓'), '𤭢'],
        [key('ключ'), 'значение'],
        [key('键 with spaces'), 'Zürich 🚀'],
      ] as const) {
        await set(k, v);
        expect((await get(k)).json(), k).to.equal(v);
      }
    });

    it('treats __proto__, constructor and toString as ordinary keys', async () => {
      for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        const name = `${k}`;
        await set(name, `value of ${k}`);
        expect((await get(name)).json(), k).to.equal(`value of ${k}`);
        await call(paths.rm(name, { w: 'all' }));
      }
    });

    it('reads + and %20 as a space and %2B as a plus (form encoding)', async () => {
      await raw(`/set?k=${key('plus')}&v=a+b%20c%2Bd&w=all`);
      expect((await get(key('plus'))).json()).to.equal('a b c+d');
    });

    it('refuses a malformed escape or a repeated parameter with 400 MALFORMED_QUERY, storing nothing', async () => {
      for (const target of [`/set?k=${key('bad')}&v=%ZZ`, `/set?k=${key('bad')}&v=%E2%82`, `/set?k=${key('bad')}&k=x&v=1`, `/get?k=a&k=b`]) {
        const answer = await raw(target);
        expect(answer.status, target).to.equal(400);
        expect(errorOf(answer), target).to.equal('MALFORMED_QUERY');
      }
      expect((await get(key('bad'))).status).to.equal(404);
    });
  });

  describe('methods and paths', () => {
    it('answers another method with 405 and an Allow header', async () => {
      for (const [method, path] of [
        ['POST', '/set?k=a&v=b'],
        ['DELETE', '/rm?k=a'],
        ['PUT', '/get?k=a'],
      ]) {
        const answer = await call(path as string, method);
        expect(answer.status, `${method} ${path}`).to.equal(405);
        expect(answer.header('allow'), `${method} ${path}`).to.be.a('string').and.contain('GET');
        expect(errorOf(answer)).to.equal('METHOD_NOT_ALLOWED');
      }
    });

    it('answers an unknown path with 404 NOT_FOUND', async () => {
      for (const path of ['/nope', '/set/extra', '/GET', '//']) {
        const answer = await call(path);
        expect(answer.status, path).to.equal(404);
        expect(errorOf(answer), path).to.equal('NOT_FOUND');
      }
    });
  });

  describe('listings and /clear', () => {
    it('/getKeys, /getValues and /getAll list exactly what is stored', async function () {
      const mine = new Map([
        [key('list-1'), 'one'],
        [key('list-2'), '𤭢'],
        [key('list-3'), ''],
      ]);
      if (process.env.INTEGRATION_NO_CLEAR !== '1') expect((await call(paths.clear({ w: 'all' }))).json()).to.deep.equal({ success: true });
      for (const [k, v] of mine) await set(k, v);
      const keys = (await call(paths.keys())).json() as string[];
      const values = (await call(paths.values())).json() as string[];
      const all = (await call(paths.all())).json() as { k: string; v: string }[];
      if (process.env.INTEGRATION_NO_CLEAR === '1') {
        // Other data stays: compare this run's list keys only.
        const ours = all.filter(({ k }) => mine.has(k));
        expect(new Map(ours.map(({ k, v }) => [k, v]))).to.deep.equal(mine);
        this.skip();
      }
      expect(new Set(keys)).to.deep.equal(new Set(mine.keys()));
      expect([...values].sort()).to.deep.equal([...mine.values()].sort());
      expect(new Map(all.map(({ k, v }) => [k, v]))).to.deep.equal(mine);
      expect(all).to.have.length(3);
    });

    it('/clear empties the store', async function () {
      if (process.env.INTEGRATION_NO_CLEAR === '1') this.skip();
      expect((await call(paths.clear({ w: 'all' }))).json()).to.deep.equal({ success: true });
      expect((await call(paths.all())).json()).to.deep.equal([]);
      expect((await get(key('a'))).status).to.equal(404);
    });
  });
});
