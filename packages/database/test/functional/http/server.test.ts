import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { ApiError } from '../../../src/errors';
import { silentLogger } from '@meshkv/common';
import { sendJson } from '../../../src/http/reply';
import { Router } from '../../../src/http/router';
import { HttpServer, type HttpServerOptions } from '../../../src/http/server';
import { rawExchange, request, requestFails, waitFor } from '../../helpers/http';

const OPTIONS: HttpServerOptions = {
  maxUrlLength: 200,
  maxConnections: 100,
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  keepAliveTimeoutMs: 5000,
  logger: silentLogger(),
};

describe('HttpServer', () => {
  let router: Router;
  let server: HttpServer;
  let base: string;
  let port: number;

  async function start(options: Partial<HttpServerOptions> = {}): Promise<void> {
    router = new Router();
    router.register('/ok', (ctx) => sendJson(ctx.res, 200, '{"ok":true}'));
    server = new HttpServer(router, { ...OPTIONS, ...options });
    const address = await server.listen(0, '127.0.0.1');
    port = address.port;
    base = `http://127.0.0.1:${port}`;
  }

  afterEach(async () => {
    await server.shutdown(500);
  });

  describe('routing', () => {
    beforeEach(() => start());

    it('answers a registered route as JSON', async () => {
      const reply = await request(base, '/ok');
      expect(reply.status).to.equal(200);
      expect(reply.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(reply.headers['content-length']).to.equal(String(reply.text.length));
      expect(reply.json()).to.deep.equal({ ok: true });
    });

    it('answers 404 NOT_FOUND for an unknown path, with or without a query', async () => {
      for (const target of ['/nope', '/nope?k=a', '/ok/', '/']) {
        const reply = await request(base, target);
        expect(reply.status, target).to.equal(404);
        expect(reply.json()).to.include({ error: 'NOT_FOUND' });
      }
    });

    it('answers 405 with Allow for a method the route does not take', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const reply = await request(base, '/ok', { method });
        expect(reply.status, method).to.equal(405);
        expect(reply.headers.allow).to.equal('GET, HEAD');
        expect(reply.json()).to.include({ error: 'METHOD_NOT_ALLOWED' });
      }
    });

    it('runs hooks in order, shared ones first; one that waits (a promise) holds the rest and the handler until it decides', async () => {
      const order: string[] = [];
      type Release = (refusal: ApiError | undefined) => void;
      const gate: { release: Release | undefined } = { release: undefined };
      router.addHook((ctx) => {
        order.push('shared');
        return ctx.query.get('wait') === undefined ? undefined : new Promise((resolve) => (gate.release = resolve));
      });
      router.register(
        '/hooked',
        (ctx) => {
          order.push('handler');
          sendJson(ctx.res, 200, '{"ok":true}');
        },
        { hooks: [(ctx) => (order.push('route'), ctx.query.get('deny') === undefined ? undefined : ApiError.of('NOT_FOUND'))] },
      );
      expect((await request(base, '/hooked')).status).to.equal(200);
      expect(order.splice(0)).to.deep.equal(['shared', 'route', 'handler']);
      expect((await request(base, '/hooked?deny=1')).status).to.equal(404);
      expect(order.splice(0)).to.deep.equal(['shared', 'route']);
      const waiting = request(base, '/hooked?wait=1');
      await waitFor(() => gate.release !== undefined, 2000, 'the hook to wait');
      expect(order, 'nothing after the waiting hook yet').to.deep.equal(['shared']);
      (gate.release as Release)(undefined);
      expect((await waiting).status).to.equal(200);
      expect(order.splice(0)).to.deep.equal(['shared', 'route', 'handler']);
      gate.release = undefined as Release | undefined;
      const refused = request(base, '/hooked?wait=1');
      await waitFor(() => gate.release !== undefined, 2000, 'the hook to wait');
      (gate.release as Release)(new ApiError('MALFORMED_QUERY', 'Refused after waiting.'));
      const answer = await refused;
      expect(answer.status).to.equal(400);
      expect(answer.json()).to.include({ message: 'Refused after waiting.' });
      expect(order.splice(0)).to.deep.equal(['shared']);
    });

    it('answers HEAD without a body', async () => {
      const reply = await request(base, '/ok', { method: 'HEAD' });
      expect(reply.status).to.equal(200);
      expect(reply.text).to.equal('');
      expect(reply.headers['content-length']).to.equal('11');
    });

    it('serves a route registered while it runs, and forgets one removed', async () => {
      expect((await request(base, '/late')).status).to.equal(404);
      router.register('/late', (ctx) => sendJson(ctx.res, 200, JSON.stringify(ctx.query.get('x') ?? null)));
      expect((await request(base, '/late?x=1')).json()).to.equal('1');
      router.unregister('/late');
      expect((await request(base, '/late')).status).to.equal(404);
    });

    it('answers 400 MALFORMED_QUERY before routing', async () => {
      const reply = await request(base, '/ok?k=%zz');
      expect(reply.status).to.equal(400);
      expect(reply.json()).to.include({ error: 'MALFORMED_QUERY' });
    });

    it('answers 414 for a URL over the limit, and takes one at the limit', async () => {
      const atLimit = `/ok?x=${'a'.repeat(200 - '/ok?x='.length)}`;
      expect(atLimit.length).to.equal(200);
      expect((await request(base, atLimit)).status).to.equal(200);
      const reply = await request(base, `${atLimit}a`);
      expect(reply.status).to.equal(414);
      expect(reply.json()).to.include({ error: 'URI_TOO_LONG' });
      expect((reply.json() as { message: string }).message).to.contain('MAX_URL_LENGTH');
    });

    it('reads an absolute-form request target by its path', async () => {
      const text = await rawExchange(port, 'GET http://example.invalid/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(text).to.match(/^HTTP\/1\.1 200/);
      const query = await rawExchange(port, 'GET http://example.invalid?k=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(query).to.match(/^HTTP\/1\.1 400/);
    });
  });

  describe('handler failures', () => {
    beforeEach(() => start());

    it('turns a thrown ApiError into its response', async () => {
      router.register('/missing', () => {
        throw new ApiError('MISSING_RECORD');
      });
      const reply = await request(base, '/missing');
      expect(reply.status).to.equal(404);
      expect(reply.json()).to.deep.equal({ error: 'MISSING_RECORD', message: 'No record has this key.' });
    });

    it('answers 500 for a handler that throws, and keeps serving', async () => {
      router.register('/boom', () => {
        throw new Error('bug');
      });
      const reply = await request(base, '/boom');
      expect(reply.status).to.equal(500);
      expect(reply.json()).to.include({ error: 'INTERNAL_ERROR' });
      expect((await request(base, '/ok')).status).to.equal(200);
    });

    it('answers 500 for a handler whose promise rejects', async () => {
      router.register('/async-boom', () => Promise.reject(new Error('async bug')));
      const reply = await request(base, '/async-boom');
      expect(reply.status).to.equal(500);
      expect(reply.json()).to.include({ error: 'INTERNAL_ERROR' });
    });

    it('cuts the connection when a handler fails after sending headers', async () => {
      router.register('/half', (ctx) => {
        ctx.res.writeHead(200);
        ctx.res.write('[');
        throw new Error('mid-body');
      });
      expect(await requestFails(base, '/half')).to.equal(true);
      expect((await request(base, '/ok')).status).to.equal(200);
    });
  });

  describe('lifecycle events', () => {
    beforeEach(() => start());

    it('emits connect, request:start, request:complete, request:end and disconnect in order', async () => {
      const seen: string[] = [];
      server.on('connect', () => seen.push('connect'));
      server.on('request:start', (ctx) => seen.push(`start ${ctx.path}`));
      server.on('request:complete', (ctx) => seen.push(`complete ${ctx.path}`));
      server.on('request:end', (ctx, end) => seen.push(`end ${ctx.path} ${end.status} ${String(end.aborted)}`));
      server.on('disconnect', () => seen.push('disconnect'));
      await request(base, '/ok');
      await waitFor(() => seen.includes('disconnect'), 2000, 'disconnect');
      expect(seen).to.deep.equal(['connect', 'start /ok', 'complete /ok', 'end /ok 200 false', 'disconnect']);
    });

    it('reports an aborted response at request:end', async () => {
      let release: (() => void) | undefined;
      router.register('/hang', (ctx) => new Promise<void>((resolve) => (release = () => { sendJson(ctx.res, 200, '1'); resolve(); })));
      const ends: boolean[] = [];
      server.on('request:end', (_ctx, end) => ends.push(end.aborted));
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n'));
      await waitFor(() => release !== undefined, 2000, 'the handler to run');
      socket.destroy();
      await waitFor(() => ends.length === 1, 2000, 'request:end');
      expect(ends).to.deep.equal([true]);
      release?.();
    });

    it('counts open connections', async () => {
      const agent = new http.Agent({ keepAlive: true });
      await request(base, '/ok', { agent });
      expect(server.connections).to.equal(1);
      agent.destroy();
      await waitFor(() => server.connections === 0, 2000, 'connections to close');
    });
  });

  describe('protection against bad clients', () => {
    it('answers 408 and closes a connection whose headers never finish (slowloris)', async () => {
      await start({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
      const started = Date.now();
      const text = await rawExchange(port, 'GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ', 5000);
      expect(text).to.match(/^HTTP\/1\.1 408/);
      expect(text).to.contain('"error":"REQUEST_TIMEOUT"');
      expect(Date.now() - started).to.be.below(3000);
    });

    it('answers 400 BAD_REQUEST in JSON to bytes that are not HTTP', async () => {
      await start();
      const text = await rawExchange(port, 'HELLO THERE\r\n\r\n');
      expect(text).to.match(/^HTTP\/1\.1 400/);
      expect(text).to.contain('"error":"BAD_REQUEST"');
    });

    it('answers 431 to headers over the size limit', async () => {
      await start();
      const text = await rawExchange(port, `GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
      expect(text).to.match(/^HTTP\/1\.1 431/);
      expect(text).to.contain('"error":"HEADERS_TOO_LARGE"');
    });

    it('answers an HTTP/1.1 request without Host with a JSON 400, and closes', async () => {
      await start();
      const text = await rawExchange(port, 'GET /ok HTTP/1.1\r\n\r\n');
      expect(text).to.match(/^HTTP\/1\.1 400/);
      expect(text).to.match(/connection: close/i);
      expect(text).to.contain('"error":"BAD_REQUEST"').and.contain('Host');
      // HTTP/1.0 needs no Host.
      expect(await rawExchange(port, 'GET /ok HTTP/1.0\r\n\r\n')).to.match(/^HTTP\/1\.1 200/);
    });

    it('refuses a Transfer-Encoding that is not chunked with a JSON 400 and closes, running nothing that follows', async () => {
      let calls = 0;
      await start();
      router.register('/count', (ctx) => {
        calls++;
        sendJson(ctx.res, 200, '{}');
      }, { methods: ['GET', 'POST'] });
      const text = await rawExchange(
        port,
        'POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\nGET /count HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      expect(text).to.match(/^HTTP\/1\.1 400/);
      expect(text).to.contain('"error":"BAD_REQUEST"').and.contain('Transfer-Encoding');
      expect(text.match(/HTTP\/1\.1 /g), 'one answer only').to.have.length(1);
      expect(calls, 'no handler ran').to.equal(0);
    });

    it('raw non-ASCII in the URL: a JSON 400 that says to percent-encode, with the curl line', async () => {
      await start();
      const text = await rawExchange(port, Buffer.from('GET /ok?v=caf\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n', 'utf8'));
      expect(text).to.match(/^HTTP\/1\.1 400/);
      expect(text).to.contain('"error":"BAD_REQUEST"').and.contain('percent-encode non-ASCII').and.contain('--data-urlencode');
    });

    it('answers connections over MAX_CONNECTIONS with a JSON 503 and Retry-After, then closes them', async () => {
      await start({ maxConnections: 2 });
      const sockets = [1, 2].map(() => net.connect(port, '127.0.0.1'));
      await waitFor(() => server.connections === 2, 2000, 'two connections');
      const refused = await request(base, '/ok');
      expect(refused.status, 'the third connection').to.equal(503);
      expect(refused.headers['retry-after']).to.equal('1');
      expect(refused.headers.connection).to.equal('close');
      expect(refused.json()).to.include({ error: 'TOO_MANY_CONNECTIONS' });
      expect(server.connections).to.equal(2);
      sockets.forEach((s) => s.destroy());
      await waitFor(() => server.connections === 0, 2000, 'connections to close');
      expect((await request(base, '/ok')).status).to.equal(200);
    });
  });

  describe('shutdown', () => {
    beforeEach(() => start());

    it('lets an in-flight request finish, then refuses new connections', async () => {
      let release: (() => void) | undefined;
      router.register('/slow', (ctx) => new Promise<void>((resolve) => (release = () => { sendJson(ctx.res, 200, '"done"'); resolve(); })));
      const inFlight = request(base, '/slow');
      await waitFor(() => release !== undefined, 2000, 'the slow request');
      const stopped = server.shutdown(5000);
      expect(server.shuttingDown).to.equal(true);
      await waitFor(() => requestFails(base, '/ok'), 2000, 'the listener to close');
      release?.();
      const reply = await inFlight;
      expect(reply.status).to.equal(200);
      expect(reply.json()).to.equal('done');
      expect(reply.headers.connection).to.equal('close');
      await stopped;
    });

    it('keeps answering during the drain with Connection: close, then stops listening', async () => {
      router.register('/healthcheck', (ctx) => sendJson(ctx.res, server.shuttingDown ? 503 : 200, '{}'));
      const stopped = server.shutdown(1000, 150);
      const during = await request(base, '/healthcheck');
      expect(during.status).to.equal(503);
      expect(during.headers.connection).to.equal('close');
      const missing = await request(base, '/nope');
      expect(missing.status).to.equal(404);
      expect(missing.headers.connection).to.equal('close');
      await stopped;
      expect(await requestFails(base, '/ok')).to.equal(true);
    });

    it('cuts requests that outlast the shutdown timeout', async () => {
      let entered = false;
      router.register('/forever', () => {
        entered = true;
        return new Promise<void>(() => undefined);
      });
      const pending = request(base, '/forever').then(
        () => 'answered',
        () => 'cut',
      );
      await waitFor(() => entered, 2000, 'the request');
      await server.shutdown(100);
      expect(await pending).to.equal('cut');
    });

    it('is idempotent', async () => {
      const a = server.shutdown(100);
      const b = server.shutdown(100);
      expect(a).to.equal(b);
      await a;
    });
  });
});
