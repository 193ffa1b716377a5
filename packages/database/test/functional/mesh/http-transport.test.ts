import { parseMeshSignature, signatureMatches } from '@meshkv/common';
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransport } from '../../../src/mesh/http-transport';
import { JsonText, PeerRequestError } from '../../../src/mesh/transport';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A real HTTP server on a free port of 127.0.0.1, answering with `handler`. */
async function serve(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString(), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function rejection(promise: Promise<unknown>): Promise<PeerRequestError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(PeerRequestError);
    return error as PeerRequestError;
  }
  throw new Error('expected the call to fail');
}

describe('HttpTransport', () => {
  const servers: Server[] = [];
  let transport: HttpTransport;

  beforeEach(() => {
    transport = new HttpTransport({ secret: 'transport-test-secret', connections: 2, connectTimeoutMs: 1000 });
  });

  afterEach(async () => {
    await transport.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  async function peer(handler: Handler): Promise<string> {
    const { url, server } = await serve(handler);
    servers.push(server);
    return url;
  }

  it('posts the body as JSON, signed, and resolves with the parsed answer', async () => {
    const seen: { path?: string; body?: string; signed?: boolean }[] = [];
    const url = await peer((req, body, res) => {
      const signature = parseMeshSignature(req.headers.authorization);
      seen.push({ path: req.url, body, signed: signature !== undefined && signatureMatches('transport-test-secret', 'POST', req.url ?? '', signature) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"got":${body}}`);
    });
    expect(await transport.post(url, '/_mesh/replicate', { records: ['é', 1] }, 2000)).to.deep.equal({ got: { records: ['é', 1] } });
    expect(await transport.post(url, '/ping', new JsonText('{"text":true}'), 2000)).to.deep.equal({ got: { text: true } });
    expect(seen).to.deep.equal([
      { path: '/_mesh/replicate', body: '{"records":["é",1]}', signed: true },
      { path: '/ping', body: '{"text":true}', signed: true },
    ]);
  });

  it('rejects a non-2xx answer with its status and the start of its body', async () => {
    const url = await peer((_req, _body, res) => res.writeHead(401).end('{"error":"UNAUTHORIZED"}'));
    const error = await rejection(transport.post(url, '/ping', {}, 2000));
    expect(error.status).to.equal(401);
    expect(error.answered).to.equal(true);
    expect(error.message).to.equal(`${url}/ping: HTTP 401 {"error":"UNAUTHORIZED"}`);
  });

  it('rejects a 2xx answer that is not JSON as answered (something is there, not a node)', async () => {
    const url = await peer((_req, _body, res) => res.writeHead(200).end('<html>hello</html>'));
    const error = await rejection(transport.post(url, '/ping', {}, 2000));
    expect(error.status).to.equal(undefined);
    expect(error.answered).to.equal(true);
    expect(error.message).to.include('not JSON');
  });

  it('rejects at its deadline when the peer never answers, and the next request still gets through', async () => {
    let hang = true;
    const url = await peer((_req, _body, res) => {
      if (!hang) res.writeHead(200).end('{}');
    });
    const started = Date.now();
    const error = await rejection(transport.post(url, '/ping', {}, 300));
    expect(Date.now() - started).to.be.within(250, 5000);
    expect(error.answered).to.equal(false);
    expect(error.message).to.include('no answer within 300 ms');
    hang = false;
    expect(await transport.post(url, '/ping', {}, 2000)).to.deep.equal({});
  });

  it('rejects at its deadline while waiting for a connection of a full pool', async () => {
    const url = await peer(() => undefined);
    const calls = [1, 2, 3].map(() => rejection(transport.post(url, '/ping', {}, 300)));
    const errors = await Promise.all(calls);
    for (const error of errors) expect(error.message).to.include('no answer within 300 ms');
  });

  it('rejects a refused connection as not answered', async () => {
    const { url, server } = await serve(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    const error = await rejection(transport.post(url, '/ping', {}, 2000));
    expect(error.answered).to.equal(false);
    expect(error.message).to.match(/ECONNREFUSED/);
  });

  it('rejects a URL it cannot use with a PeerRequestError, at once', async () => {
    const started = Date.now();
    const bad = await rejection(transport.post('not a url', '/ping', {}, 10_000));
    expect(bad.answered).to.equal(false);
    expect(Date.now() - started).to.be.below(5000);
  });

  it('streams an answer to the reader', async () => {
    const url = await peer((_req, _body, res) => {
      res.writeHead(200);
      res.write('line 1\n');
      res.end('line 2\n');
    });
    const text = await transport.stream(url, '/_mesh/versions', {}, 2000, async (chunks) => {
      let all = '';
      for await (const chunk of chunks) all += chunk.toString();
      return all;
    });
    expect(text).to.equal('line 1\nline 2\n');
  });
});
