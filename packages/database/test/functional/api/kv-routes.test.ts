import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from '../../helpers/http';
import { startTestNode, type TestNode } from '../../helpers/node';

const enc = encodeURIComponent;

describe('key/value routes', () => {
  let t: TestNode;
  beforeEach(async () => {
    t = await startTestNode();
  });
  afterEach(() => t.close());

  const expectError = async (target: string, status: number, code: string): Promise<void> => {
    const reply = await t.get(target);
    expect(reply.status, target).to.equal(status);
    expect(reply.headers['content-type']).to.equal('application/json; charset=utf-8');
    const body = reply.json() as { error: string; message: string };
    expect(body.error, target).to.equal(code);
    expect(body.message).to.be.a('string').and.not.equal('');
  };

  describe('/set, /get, /is, /rm', () => {
    it('stores a value and reads it back as a JSON string', async () => {
      const set = await t.get('/set?k=a&v=1');
      expect(set.status).to.equal(200);
      expect(set.json()).to.deep.equal({ success: true });
      const got = await t.get('/get?k=a');
      expect(got.status).to.equal(200);
      expect(got.text).to.equal('"1"');
    });

    it('overwrites a value', async () => {
      await t.get('/set?k=a&v=1');
      await t.get('/set?k=a&v=2');
      expect((await t.get('/get?k=a')).json()).to.equal('2');
    });

    it('stores an empty value', async () => {
      expect((await t.get('/set?k=a&v=')).status).to.equal(200);
      expect((await t.get('/get?k=a')).text).to.equal('""');
      expect((await t.get('/set?k=b&v')).status).to.equal(200);
      expect((await t.get('/get?k=b')).text).to.equal('""');
    });

    it('answers /is with success or MISSING_RECORD', async () => {
      await expectError('/is?k=a', 404, 'MISSING_RECORD');
      await t.get('/set?k=a&v=1');
      expect((await t.get('/is?k=a')).json()).to.deep.equal({ success: true });
    });

    it('removes a key, then answers MISSING_RECORD for it', async () => {
      await t.get('/set?k=a&v=1');
      expect((await t.get('/rm?k=a')).json()).to.deep.equal({ success: true });
      await expectError('/get?k=a', 404, 'MISSING_RECORD');
      await expectError('/is?k=a', 404, 'MISSING_RECORD');
      await expectError('/rm?k=a', 404, 'MISSING_RECORD');
    });

    it('answers MISSING_RECORD for a key never set', async () => {
      await expectError('/get?k=never', 404, 'MISSING_RECORD');
      await expectError('/rm?k=never', 404, 'MISSING_RECORD');
    });

    it('reads + and %20 as spaces and %2B as a plus', async () => {
      await t.get('/set?k=a+b&v=c%20d');
      expect((await t.get('/get?k=a%20b')).json()).to.equal('c d');
      await t.get('/set?k=x%2By&v=1%2B1');
      expect((await t.get('/get?k=x%2By')).json()).to.equal('1+1');
      await expectError('/get?k=x+y', 404, 'MISSING_RECORD');
    });

    it('round-trips UTF-8: ✓ in a key, an astral character as a value', async () => {
      await t.get(`/set?k=${enc('✓ check')}&v=${enc('𤭢')}`);
      const reply = await t.get(`/get?k=${enc('✓ check')}`);
      expect(reply.json()).to.equal('𤭢');
      expect(Buffer.from(reply.text)).to.deep.equal(Buffer.from('"𤭢"'));
      const mixed = 'Grüße 😀 中文 \u0000 "quoted" \\ / \n';
      await t.get(`/set?k=mixed&v=${enc(mixed)}`);
      expect((await t.get('/get?k=mixed')).json()).to.equal(mixed);
    });

    it('treats __proto__, constructor and friends as ordinary keys', async () => {
      const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
      for (const key of keys) await expectError(`/get?k=${key}`, 404, 'MISSING_RECORD');
      for (const [i, key] of keys.entries()) expect((await t.get(`/set?k=${key}&v=${i}`)).status).to.equal(200);
      for (const [i, key] of keys.entries()) expect((await t.get(`/get?k=${key}`)).json()).to.equal(String(i));
      expect(((await t.get('/getKeys')).json() as string[]).sort()).to.deep.equal([...keys].sort());
    });

    it('ignores parameters it does not know', async () => {
      expect((await t.get('/set?k=a&v=1&_=123')).status).to.equal(200);
      expect((await t.get('/get?k=a&cachebust=1')).json()).to.equal('1');
    });

    it('does not take HEAD for the routes that write, and does take it for reads', async () => {
      const head = await t.get('/set?k=a&v=1', 'HEAD');
      expect(head.status).to.equal(405);
      expect(head.headers.allow).to.equal('GET');
      await expectError('/get?k=a', 404, 'MISSING_RECORD');
      await t.get('/set?k=a&v=1');
      const read = await t.get('/get?k=a', 'HEAD');
      expect(read.status).to.equal(200);
      expect(read.text).to.equal('');
      expect((await t.get('/rm?k=a', 'HEAD')).status).to.equal(405);
      expect((await t.get('/clear', 'HEAD')).status).to.equal(405);
      expect((await t.get('/get?k=a')).json()).to.equal('1');
    });

    it('refuses other methods with 405 and changes nothing', async () => {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const reply = await t.get('/set?k=a&v=1', method);
        expect(reply.status).to.equal(405);
        expect((reply.json() as { error: string }).error).to.equal('METHOD_NOT_ALLOWED');
      }
      await expectError('/get?k=a', 404, 'MISSING_RECORD');
    });
  });

  describe('errors, in their order', () => {
    const table = [
      { desc: 'no parameters', target: '/set', code: 'MISSING_KEY_PARAM' },
      { desc: 'a value but no key', target: '/set?v=1', code: 'MISSING_KEY_PARAM' },
      { desc: 'an empty key, no value', target: '/set?k=', code: 'EMPTY_KEY' },
      { desc: 'an empty key and a value', target: '/set?k=&v=1', code: 'EMPTY_KEY' },
      { desc: 'a long key, no value', target: `/set?k=${'a'.repeat(65)}`, code: 'MAXIMUM_KEY_LENGTH_REACHED' },
      { desc: 'a long key, a long value', target: `/set?k=${'a'.repeat(65)}&v=${'b'.repeat(257)}`, code: 'MAXIMUM_KEY_LENGTH_REACHED' },
      { desc: 'a key, no value', target: '/set?k=a', code: 'MISSING_VALUE_PARAM' },
      { desc: 'a long value', target: `/set?k=a&v=${'b'.repeat(257)}`, code: 'MAXIMUM_VALUE_LENGTH_REACHED' },
      { desc: 'a malformed escape before anything else', target: '/set?v=%zz', code: 'MALFORMED_QUERY' },
      { desc: 'a repeated key', target: '/set?k=a&k=b&v=1', code: 'MALFORMED_QUERY' },
      { desc: 'a repeated value', target: '/set?k=a&v=1&v=2', code: 'MALFORMED_QUERY' },
      { desc: 'get without a key', target: '/get', code: 'MISSING_KEY_PARAM' },
      { desc: 'get with an empty key', target: '/get?k=', code: 'EMPTY_KEY' },
      { desc: 'get with a long key', target: `/get?k=${'a'.repeat(65)}`, code: 'MAXIMUM_KEY_LENGTH_REACHED' },
      { desc: 'rm without a key', target: '/rm', code: 'MISSING_KEY_PARAM' },
      { desc: 'rm with an empty key', target: '/rm?k=', code: 'EMPTY_KEY' },
      { desc: 'rm with a long key', target: `/rm?k=${'a'.repeat(65)}`, code: 'MAXIMUM_KEY_LENGTH_REACHED' },
      { desc: 'is without a key', target: '/is', code: 'MISSING_KEY_PARAM' },
      { desc: 'is with an empty key', target: '/is?k=', code: 'EMPTY_KEY' },
      { desc: 'is with a long key', target: `/is?k=${'a'.repeat(65)}`, code: 'MAXIMUM_KEY_LENGTH_REACHED' },
      { desc: 'get with a bad escape', target: '/get?k=%E2%82', code: 'MALFORMED_QUERY' },
    ];
    for (const { desc, target, code } of table) {
      it(`${desc} -> ${code}`, async () => {
        await expectError(target, 400, code);
        expect(((await t.get('/getKeys')).json() as unknown[]).length, 'nothing was stored').to.equal(0);
      });
    }

    it('names the limit in the length errors', async () => {
      const reply = await t.get(`/set?k=${'a'.repeat(65)}&v=1`);
      expect(reply.json()).to.include({ maxKeyLength: 64 });
      const value = await t.get(`/set?k=a&v=${'b'.repeat(257)}`);
      expect(value.json()).to.include({ maxValueLength: 256 });
    });
  });

  describe('length limits, inclusive, in code points', () => {
    const cases = [
      { desc: '64 ASCII characters', key: 'k'.repeat(64), ok: true },
      { desc: '65 ASCII characters', key: 'k'.repeat(65), ok: false },
      { desc: '64 astral characters (128 UTF-16 units)', key: '𤭢'.repeat(64), ok: true },
      { desc: '65 astral characters', key: '𤭢'.repeat(65), ok: false },
      { desc: '63 ASCII and one astral character', key: `${'k'.repeat(63)}😀`, ok: true },
      { desc: '64 three-byte characters', key: '✓'.repeat(64), ok: true },
      { desc: '1 character', key: 'k', ok: true },
    ];
    for (const { desc, key, ok } of cases) {
      it(`${ok ? 'takes' : 'refuses'} a key of ${desc}`, async () => {
        const reply = await t.get(`/set?k=${enc(key)}&v=1`);
        if (ok) {
          expect(reply.status).to.equal(200);
          expect((await t.get(`/get?k=${enc(key)}`)).json()).to.equal('1');
        } else {
          expect((reply.json() as { error: string }).error).to.equal('MAXIMUM_KEY_LENGTH_REACHED');
        }
      });
    }

    const values = [
      { desc: '256 ASCII characters', value: 'v'.repeat(256), ok: true },
      { desc: '257 ASCII characters', value: 'v'.repeat(257), ok: false },
      { desc: '256 astral characters', value: '𤭢'.repeat(256), ok: true },
      { desc: '257 astral characters', value: '𤭢'.repeat(257), ok: false },
      { desc: 'no characters', value: '', ok: true },
    ];
    for (const { desc, value, ok } of values) {
      it(`${ok ? 'takes' : 'refuses'} a value of ${desc}`, async () => {
        const reply = await t.get(`/set?k=a&v=${enc(value)}`);
        if (ok) {
          expect(reply.status).to.equal(200);
          expect((await t.get('/get?k=a')).json()).to.equal(value);
        } else {
          expect((reply.json() as { error: string }).error).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
        }
      });
    }

    it('follows MAX_KEY_LENGTH and MAX_VALUE_LENGTH', async () => {
      const small = await startTestNode({ MAX_KEY_LENGTH: '3', MAX_VALUE_LENGTH: '2' });
      try {
        expect((await small.get('/set?k=abc&v=xy')).status).to.equal(200);
        expect((await small.get('/set?k=abcd&v=x')).json()).to.include({ error: 'MAXIMUM_KEY_LENGTH_REACHED', maxKeyLength: 3 });
        expect((await small.get('/set?k=a&v=xyz')).json()).to.include({ error: 'MAXIMUM_VALUE_LENGTH_REACHED', maxValueLength: 2 });
        expect((await small.get('/status')).json()).to.include({ maxKeyLength: 3, maxValueLength: 2 });
      } finally {
        await small.close();
      }
    });
  });

  describe('/clear and the listings', () => {
    const fill = async (pairs: Record<string, string>): Promise<void> => {
      for (const [k, v] of Object.entries(pairs)) await t.get(`/set?k=${enc(k)}&v=${enc(v)}`);
    };

    it('lists exactly the live keys, values and pairs', async () => {
      await fill({ a: '1', b: '2', '✓': '𤭢', gone: 'x' });
      await t.get('/rm?k=gone');
      expect(((await t.get('/getKeys')).json() as string[]).sort()).to.deep.equal(['a', 'b', '✓']);
      expect(((await t.get('/getValues')).json() as string[]).sort()).to.deep.equal(['1', '2', '𤭢']);
      const all = (await t.get('/getAll')).json() as { k: string; v: string }[];
      expect(all.sort((x, y) => (x.k < y.k ? -1 : 1))).to.deep.equal([
        { k: 'a', v: '1' },
        { k: 'b', v: '2' },
        { k: '✓', v: '𤭢' },
      ]);
    });

    it('lists [] when empty', async () => {
      for (const route of ['/getKeys', '/getValues', '/getAll']) {
        const reply = await t.get(route);
        expect(reply.status).to.equal(200);
        expect(reply.text).to.equal('[]');
      }
    });

    it('clears every key', async () => {
      await fill({ a: '1', b: '2' });
      expect((await t.get('/clear')).json()).to.deep.equal({ success: true });
      expect((await t.get('/getAll')).json()).to.deep.equal([]);
      await t.get('/set?k=c&v=3');
      expect((await t.get('/getAll')).json()).to.deep.equal([{ k: 'c', v: '3' }]);
    });

    it('streams a large listing in chunks and it parses whole', async () => {
      const n = 20000;
      for (let i = 0; i < n; i++) t.node.store.set(`key-${i}`, `value-${i}-${'x'.repeat(20)}`);
      const reply = await t.get('/getAll');
      expect(reply.headers['transfer-encoding']).to.equal('chunked');
      const all = reply.json() as { k: string; v: string }[];
      expect(all).to.have.length(n);
      expect(new Set(all.map((e) => e.k)).size).to.equal(n);
      expect(all.find((e) => e.k === 'key-12345')?.v).to.equal(`value-12345-${'x'.repeat(20)}`);
      expect((await t.get('/getKeys')).json()).to.have.length(n);
      expect((await t.get('/getValues')).json()).to.have.length(n);
    });

    it('stops streaming when the client goes away and keeps serving', async () => {
      for (let i = 0; i < 50000; i++) t.node.store.set(`key-${i}`, 'v'.repeat(200));
      await new Promise<void>((resolve) => {
        const socket = net.connect(t.port, '127.0.0.1', () => socket.write('GET /getAll HTTP/1.1\r\nHost: x\r\n\r\n'));
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
      });
      expect((await t.get('/get?k=key-1')).status).to.equal(200);
    });
  });
});

describe('a client that stops reading a listing', () => {
  it('is cut after SEND_TIMEOUT_MS without progress, for memory and lmdb nodes alike', async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-send-'));
    try {
      const storages: Record<string, string>[] = [{}, { STORAGE: 'lmdb', DATA_DIR: dir, DURABILITY: 'none' }];
      for (const storage of storages) {
        const t = await startTestNode({ SEND_TIMEOUT_MS: '300', ...storage });
        try {
          // About 12 MB of answer: more than the socket buffers of both ends hold.
          const value = 'v'.repeat(250);
          for (let i = 0; i < 48_000; i++) t.node.store.set(`key-${i}`, value);
          await t.node.store.flush();
          const socket = net.connect(t.port, '127.0.0.1');
          await new Promise<void>((resolve) => socket.once('connect', resolve));
          socket.write('GET /getAll HTTP/1.1\r\nHost: x\r\n\r\n');
          socket.pause(); // reads nothing, ever
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          await waitFor(() => t.node.server.connections === 1, 5000, 'the request to be served');
          await waitFor(() => t.node.server.connections === 0, 10_000, 'the stalled response to be cut');
          socket.destroy();
          await closed;
        } finally {
          await t.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
