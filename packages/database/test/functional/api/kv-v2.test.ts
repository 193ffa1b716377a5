import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { post, rawExchange, request, waitFor } from '../../helpers/http';
import { startTestNode, type TestNode } from '../../helpers/node';

const enc = encodeURIComponent;

/** The routes of KV v2 on one real node: expiry, ETags, meta, scans, /kv/{key}, batches. */
describe('key/value routes, v2', () => {
  let t: TestNode;
  /** The node's clock, moved forward by the tests that let keys expire. */
  const clock = { offsetMs: 0 };
  beforeEach(async () => {
    clock.offsetMs = 0;
    t = await startTestNode({}, clock);
  });
  afterEach(() => t.close());

  const json = async (target: string, status = 200): Promise<unknown> => {
    const reply = await t.get(target);
    expect(reply.status, `${target}: ${reply.text}`).to.equal(status);
    return reply.json();
  };
  const errorOf = async (target: string, status: number): Promise<string> => ((await json(target, status)) as { error: string }).error;

  describe('expiring keys', () => {
    it('a key set with a ttl is there until it expires, then missing from every read at once', async () => {
      await json('/set?k=keep&v=1');
      await json('/set?k=soon&v=2&ttl=5s');
      expect(await json('/ttl?k=soon')).to.have.property('ttlMs').within(4000, 5000);
      expect(await json('/getKeys')).to.have.members(['keep', 'soon']);
      clock.offsetMs = 5000;
      expect(await errorOf('/get?k=soon', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/is?k=soon', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/ttl?k=soon', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/meta?k=soon', 404)).to.equal('MISSING_RECORD');
      expect((await t.get('/kv/soon')).status).to.equal(404);
      expect(await json('/getKeys')).to.deep.equal(['keep']);
      expect(await json('/getAll')).to.deep.equal([{ k: 'keep', v: '1' }]);
      expect(await json('/scan')).to.deep.equal({ items: [{ k: 'keep', v: '1' }], next: null });
      expect(await errorOf('/rm?k=soon', 404), 'an expired key cannot be deleted: it is missing').to.equal('MISSING_RECORD');
      expect(await errorOf('/expire?k=soon&ttl=1m', 404)).to.equal('MISSING_RECORD');
      const status = (await json('/status')) as { availableRecords: number; expiry: { expired: number; expiring: number } };
      expect(status.availableRecords).to.equal(1);
      await waitFor(async () => ((await json('/status')) as typeof status).expiry.expired === 1, 5000, 'the sweep');
      expect(((await json('/status')) as typeof status).expiry.expiring).to.equal(0);
    });

    it('reads ttl as milliseconds or a number with a unit, 1 ms to MAX_TTL_MS, else 400 INVALID_TTL with the limit', async () => {
      for (const [ttl, ms] of [['1500', 1500], ['1.5s', 1500], ['2m', 120_000], ['1h', 3_600_000], ['1d', 86_400_000], ['30d', 2_592_000_000], ['250ms', 250]] as const) {
        await json(`/set?k=a&v=1&ttl=${ttl}`);
        expect(await json('/ttl?k=a'), ttl).to.have.property('ttlMs').within(ms - 1000, ms);
      }
      for (const ttl of ['0', '-1', '1.5', '31d', '2592000001', 'abc', '5x', '', '1e3', ' 5']) {
        const body = (await json(`/set?k=b&v=1&ttl=${enc(ttl)}`, 400)) as { error: string; maxTtlMs: number; message: string };
        expect(body.error, ttl).to.equal('INVALID_TTL');
        expect(body.maxTtlMs).to.equal(2_592_000_000);
        expect(body.message).to.match(/^The ttl/);
      }
      expect(await errorOf('/get?k=b', 404), 'nothing was written').to.equal('MISSING_RECORD');
    });

    it('a /set without ttl clears the expiry; /expire sets or replaces it; /persist removes it', async () => {
      await json('/set?k=a&v=1&ttl=1m');
      await json('/set?k=a&v=2');
      expect(await json('/ttl?k=a')).to.deep.equal({ ttlMs: null });
      await json('/expire?k=a&ttl=10s');
      expect(await json('/ttl?k=a')).to.have.property('ttlMs').within(9000, 10_000);
      await json('/expire?k=a&ttl=1h');
      expect(await json('/ttl?k=a')).to.have.property('ttlMs').above(3_000_000);
      expect(await json('/get?k=a'), '/expire keeps the value').to.equal('2');
      await json('/persist?k=a');
      expect(await json('/ttl?k=a')).to.deep.equal({ ttlMs: null });
      const tag = (await t.get('/get?k=a')).headers.etag;
      await json('/persist?k=a');
      expect((await t.get('/get?k=a')).headers.etag, '/persist of a key without expiry writes nothing').to.equal(tag);
      clock.offsetMs = 2 * 3_600_000;
      expect(await json('/get?k=a'), 'persisted: it does not expire').to.equal('2');
      expect(await errorOf('/expire?k=nope&ttl=1s', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/persist?k=nope', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/ttl?k=nope', 404)).to.equal('MISSING_RECORD');
      expect(await errorOf('/expire?k=a', 400)).to.equal('INVALID_TTL');
      expect(await errorOf('/expire?ttl=1s', 400)).to.equal('MISSING_KEY_PARAM');
      expect(await errorOf('/expire?k=a&ttl=1s&w=zero', 400)).to.equal('INVALID_WRITE_CONCERN');
    });

    it('a key written again with a ttl after it expired is there again', async () => {
      await json('/set?k=a&v=1&ttl=1s');
      clock.offsetMs = 1000;
      expect(await errorOf('/get?k=a', 404)).to.equal('MISSING_RECORD');
      await json('/set?k=a&v=2&ttl=1m');
      expect(await json('/get?k=a')).to.equal('2');
    });
  });

  describe('versions as ETags', () => {
    it('every answer about one record carries its ETag; each write changes it; the bodies are nkvd\'s', async () => {
      const set = await t.get('/set?k=a&v=1');
      const tag = set.headers.etag as string;
      expect(tag).to.match(/^"\d+\.\d+-[^"]+"$/);
      expect(set.text).to.equal('{"success":true}');
      const get = await t.get('/get?k=a');
      expect(get.text).to.equal('"1"');
      for (const target of ['/get?k=a', '/is?k=a', '/meta?k=a', '/ttl?k=a', '/kv/a']) expect((await t.get(target)).headers.etag, target).to.equal(tag);
      const again = await t.get('/set?k=a&v=1');
      expect(again.headers.etag, 'the same value written again is a new write').to.not.equal(tag);
      const removed = await t.get('/rm?k=a');
      expect(removed.headers.etag).to.be.a('string').and.not.equal(again.headers.etag);
      expect((await t.get('/get?k=a')).headers.etag, 'a missing key has none').to.equal(undefined);
      expect((await t.get('/clear')).headers.etag, 'a clear is no one record').to.equal(undefined);
    });

    it('/meta answers the version, ttl and size without the value, or with it (v=1)', async () => {
      await json(`/set?k=a&v=${enc('héllo')}&ttl=1m`);
      const meta = (await json('/meta?k=a')) as Record<string, unknown>;
      expect(meta).to.have.keys(['k', 'version', 'ttlMs', 'size']);
      expect(meta.k).to.equal('a');
      expect(meta.size, 'bytes of UTF-8').to.equal(6);
      expect(`"${meta.version as string}"`).to.equal((await t.get('/get?k=a')).headers.etag);
      expect(await json('/meta?k=a&v=1')).to.include({ v: 'héllo' });
      expect(await json('/meta?k=a&v=0')).to.not.have.property('v');
      expect(await errorOf('/meta?k=a&v=yes', 400)).to.equal('MALFORMED_QUERY');
    });
  });

  describe('ordered scans', () => {
    // In UTF-16 order '\u{1F600}' (a surrogate pair) sorts before '\uFFFD'; by code point it is after.
    const keys = ['a', 'a/1', 'a/2', 'ab', 'b', 'é', '\uFFFD', '\u{1F600}', 'z'].sort();
    const byCodePoint = [...keys].sort((x, y) => {
      const [p, q] = [[...x].map((c) => c.codePointAt(0) as number), [...y].map((c) => c.codePointAt(0) as number)];
      for (let i = 0; i < Math.min(p.length, q.length); i++) if (p[i] !== q[i]) return (p[i] as number) - (q[i] as number);
      return p.length - q.length;
    });
    beforeEach(async () => {
      for (const key of keys) await json(`/set?k=${enc(key)}&v=${enc(`v-${key}`)}`);
    });

    it('pages through every live key in code point order, the cursor being the last key', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const target: string = `/scan?limit=2&values=0${after === null ? '' : `&after=${enc(after)}`}`;
        const body = (await json(target)) as { items: string[]; next: string | null };
        seen.push(...body.items);
        expect(body.items.length).to.be.at.most(2);
        if (body.next === null) break;
        expect(body.next).to.equal(body.items.at(-1));
        after = body.next;
      }
      expect(seen).to.deep.equal(byCodePoint);
      expect(await json('/scan?limit=1000')).to.deep.equal({ items: byCodePoint.map((k) => ({ k, v: `v-${k}` })), next: null });
      expect(await json(`/scan?limit=${keys.length}`), 'next is null only when nothing is left').to.have.property('next', null);
    });

    it('by prefix; a cursor anywhere, even a key that is not there', async () => {
      expect(await json('/scan?prefix=a&values=0')).to.deep.equal({ items: ['a', 'a/1', 'a/2', 'ab'], next: null });
      expect(await json('/scan?prefix=a/&after=a/1&values=0')).to.deep.equal({ items: ['a/2'], next: null });
      expect(await json('/scan?prefix=a&after=a/15&values=0')).to.deep.equal({ items: ['a/2', 'ab'], next: null });
      expect(await json('/scan?prefix=a&after=0&values=0'), 'a cursor before the prefix').to.deep.equal({ items: ['a', 'a/1', 'a/2', 'ab'], next: null });
      expect(await json('/scan?prefix=q')).to.deep.equal({ items: [], next: null });
      await json('/rm?k=a%2F1');
      expect(await json('/scan?prefix=a&values=0'), 'deleted keys are not listed').to.deep.equal({ items: ['a', 'a/2', 'ab'], next: null });
    });

    it('/getKeys, /getValues and /getAll take prefix= too', async () => {
      expect(await json('/getKeys?prefix=a%2F')).to.deep.equal(['a/1', 'a/2']);
      expect(await json('/getValues?prefix=a%2F')).to.deep.equal(['v-a/1', 'v-a/2']);
      expect(await json('/getAll?prefix=b')).to.deep.equal([{ k: 'b', v: 'v-b' }]);
      expect(await json('/getKeys?prefix=')).to.have.members(keys);
    });

    it('refuses a limit outside 1 to 1000 and a values flag it cannot read', async () => {
      for (const limit of ['0', '1001', '-1', 'ten', '1.5', '']) expect(await errorOf(`/scan?limit=${limit}`, 400), limit).to.equal('INVALID_LIMIT');
      expect(await errorOf('/scan?values=2', 400)).to.equal('MALFORMED_QUERY');
      expect(((await json('/scan')) as { items: unknown[] }).items, 'the default limit is 100').to.have.length(keys.length);
    });
  });

  describe('/kv/{key}', () => {
    const put = (key: string, body: string | Buffer, query = '', headers: Record<string, string> = {}) => requestBody(t.url, `/kv/${key}${query}`, 'PUT', body, headers);

    it('PUT, GET, HEAD and DELETE: the same records as the nkvd routes', async () => {
      const written = await put('a%2Fb', 'héllo wörld');
      expect(written.status).to.equal(200);
      expect(written.json()).to.deep.equal({ success: true });
      const got = await t.get('/kv/a/b');
      expect(got.status).to.equal(200);
      expect(got.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(got.text).to.equal('héllo wörld');
      expect(got.headers.etag).to.equal(written.headers.etag);
      expect(await json(`/get?k=${enc('a/b')}`), 'the nkvd view of the same key').to.equal('héllo wörld');
      const head = await t.get('/kv/a%2Fb', 'HEAD');
      expect(head.status).to.equal(200);
      expect(head.text).to.equal('');
      expect(head.headers['content-length']).to.equal(String(Buffer.byteLength('héllo wörld')));
      await json('/set?k=c&v=from%20nkvd');
      expect((await t.get('/kv/c')).text).to.equal('from nkvd');
      const removed = await t.get('/kv/a/b', 'DELETE');
      expect(removed.json()).to.deep.equal({ success: true });
      const missing = await t.get('/kv/a/b');
      expect(missing.status).to.equal(404);
      expect(missing.json()).to.include({ error: 'MISSING_RECORD' });
      expect((await t.get('/kv/a/b', 'DELETE')).status).to.equal(404);
    });

    it('answers 304 to If-None-Match with the current ETag', async () => {
      const tag = (await put('k', 'v')).headers.etag as string;
      const same = await request(t.url, '/kv/k', { headers: { 'if-none-match': tag } });
      expect(same.status).to.equal(304);
      expect(same.headers.etag).to.equal(tag);
      expect((await request(t.url, '/kv/k', { headers: { 'if-none-match': '"other"' } })).status).to.equal(200);
      expect((await request(t.url, '/kv/k', { headers: { 'if-none-match': `"x", W/${tag}` } })).status).to.equal(304);
    });

    it('PUT takes ttl, w and wtimeout in the query', async () => {
      await put('t', 'v', '?ttl=2s&w=1&wtimeout=100');
      expect(await json('/ttl?k=t')).to.have.property('ttlMs').within(1000, 2000);
      expect((await put('t', 'v', '?ttl=0')).json()).to.include({ error: 'INVALID_TTL' });
      expect((await put('t', 'v', '?w=none')).json()).to.include({ error: 'INVALID_WRITE_CONCERN' });
    });

    it('refuses what is not a key or UTF-8 text within MAX_VALUE_LENGTH, storing nothing changed', async () => {
      await put('v', 'before');
      const invalid = await put('v', Buffer.from([0x68, 0xff, 0x69]));
      expect(invalid.status).to.equal(400);
      expect(invalid.json()).to.include({ error: 'INVALID_UTF8' });
      const lone = await put('v', Buffer.from([0xed, 0xa0, 0x80])); // an encoded lone surrogate
      expect(lone.json()).to.include({ error: 'INVALID_UTF8' });
      expect((await t.get('/kv/v')).text).to.equal('before');
      // 256 code points of 4 bytes each pass; one more code point does not.
      expect((await put('v', '😀'.repeat(256))).status).to.equal(200);
      const long = await put('v', '😀'.repeat(257));
      expect(long.status).to.equal(413);
      expect(long.json()).to.include({ error: 'MAXIMUM_VALUE_LENGTH_REACHED', maxValueLength: 256 });
      const announced = await put('v', 'x'.repeat(2000));
      expect(announced.status, 'announced larger than 4 bytes a code point').to.equal(413);
      const chunked = await requestBody(t.url, '/kv/v', 'PUT', ['x'.repeat(600), 'x'.repeat(600)], {});
      expect(chunked.status, 'chunked, found too long while read').to.equal(413);
      expect((await t.get('/kv/v')).text).to.equal('😀'.repeat(256));
      expect((await put('', 'x')).json()).to.include({ error: 'EMPTY_KEY' });
      expect((await put('%zz', 'x')).json()).to.include({ error: 'MALFORMED_PATH' });
      expect((await put('k'.repeat(65), 'x')).json()).to.include({ error: 'MAXIMUM_KEY_LENGTH_REACHED' });
      const wrong = await t.get('/kv/v', 'POST');
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.allow).to.equal('GET, HEAD, PUT, DELETE');
    });

    it('an empty body is an empty value', async () => {
      await put('e', '');
      expect(await json('/get?k=e')).to.equal('');
    });
  });

  describe('POST /batch', () => {
    it('applies the operations in order, one result each; a failing one fails alone', async () => {
      await json('/set?k=old&v=1');
      const ops = [
        { op: 'set', k: 'a', v: '1' },
        { op: 'set', k: 'b', v: '2', ttl: '1m' },
        { op: 'set', k: 'a', v: '3' },
        { op: 'rm', k: 'old' },
        { op: 'rm', k: 'never' },
        { op: 'expire', k: 'a', ttl: 60_000 },
        { op: 'persist', k: 'a' },
        { op: 'set', k: '', v: 'x' },
        { op: 'set', k: 'c', v: 'x', ttl: 0 },
      ];
      const reply = await post(t.url, '/batch', JSON.stringify({ ops }));
      expect(reply.status).to.equal(200);
      const results = (reply.json() as { results: { success?: true; error?: string }[] }).results;
      expect(results.map((result) => result.error ?? 'ok')).to.deep.equal(['ok', 'ok', 'ok', 'ok', 'MISSING_RECORD', 'ok', 'ok', 'EMPTY_KEY', 'INVALID_TTL']);
      expect(await json('/getAll')).to.have.deep.members([
        { k: 'a', v: '3' },
        { k: 'b', v: '2' },
      ]);
      expect(await json('/ttl?k=a')).to.deep.equal({ ttlMs: null });
      expect(await json('/ttl?k=b')).to.have.property('ttlMs').above(50_000);
      expect((await post(t.url, '/batch?w=all', '{"ops":[]}')).json()).to.deep.equal({ results: [] });
    });

    it('refuses a body of another shape, changing nothing (400), and more than BATCH_MAX_OPS (413)', async () => {
      const bodies = [
        'not json',
        '[]',
        '{}',
        '{"ops":{}}',
        '{"ops":[1]}',
        '{"ops":[{"op":"get","k":"a"}]}',
        '{"ops":[{"op":"set","k":"a"}]}',
        '{"ops":[{"op":"set","k":1,"v":"x"}]}',
        '{"ops":[{"op":"set","k":"a","v":"x","ttl":true}]}',
        '{"ops":[{"op":"set","k":"a","v":"x"},{"op":"expire","k":"a"}]}',
      ];
      for (const body of bodies) {
        const reply = await post(t.url, '/batch', body);
        expect(reply.status, body).to.equal(400);
        expect(reply.json(), body).to.include({ error: 'MALFORMED_BODY' });
      }
      expect(await json('/getKeys'), 'nothing applied').to.deep.equal([]);
      const many = await post(t.url, '/batch', JSON.stringify({ ops: Array.from({ length: 1001 }, (_, i) => ({ op: 'set', k: `k${i}`, v: '' })) }));
      expect(many.status).to.equal(413);
      expect(many.json()).to.include({ error: 'PAYLOAD_TOO_LARGE', batchMaxOps: 1000 });
      expect((await post(t.url, '/batch?w=x', '{"ops":[]}')).json()).to.include({ error: 'INVALID_WRITE_CONCERN' });
      expect((await t.get('/batch')).status).to.equal(405);
    });
  });
});

describe('a slow /kv/ body', () => {
  it('is cut with 408 by REQUEST_TIMEOUT_MS, and nothing is stored', async () => {
    const t = await startTestNode({ HEADERS_TIMEOUT_MS: '200', REQUEST_TIMEOUT_MS: '400' });
    try {
      const text = await rawExchange(t.port, 'PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b', 5000);
      expect(text).to.match(/^HTTP\/1\.1 408/);
      expect((await t.get('/kv/slow')).status).to.equal(404);
    } finally {
      await t.close();
    }
  });
});

describe('long values (MAX_VALUE_LENGTH=65536)', () => {
  for (const storage of ['memory', 'lmdb'] as const) {
    it(`stores, reads, lists and batches values of 65,536 code points (${storage})`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-long-'));
      const t = await startTestNode({ MAX_VALUE_LENGTH: '65536', STORAGE: storage, DATA_DIR: dir });
      try {
        const value = 'é😀x'.repeat(65536 / 3) + 'y';
        expect([...value]).to.have.length(65536);
        expect((await requestBody(t.url, '/kv/long', 'PUT', value, {})).status).to.equal(200);
        expect((await t.get('/kv/long')).text).to.equal(value);
        const ops = Array.from({ length: 20 }, (_, i) => ({ op: 'set', k: `b${i}`, v: value }));
        expect((await post(t.url, '/batch', JSON.stringify({ ops }))).status).to.equal(200);
        expect(((await t.get('/getAll')).json() as unknown[]).length).to.equal(21);
        expect((await requestBody(t.url, '/kv/long', 'PUT', `${value}z`, {})).status).to.equal(413);
      } finally {
        await t.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** A request with a body: a string or bytes with Content-Length, an array of strings sent chunked. */
function requestBody(base: string, target: string, method: string, body: string | Buffer | string[], headers: Record<string, string>): ReturnType<typeof request> {
  if (!Array.isArray(body)) return request(base, target, { method, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers }, body });
  return request(base, target, { method, headers, chunks: body });
}
