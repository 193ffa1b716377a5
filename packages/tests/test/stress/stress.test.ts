import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { HttpConnection, parseResponse } from '../../src/stress/connection';
import { OPERATIONS, parseMix, pick } from '../../src/stress/mix';
import { NodeProcess } from '../../src/cluster/node-process';
import { readStressOptions, StressConfigError } from '../../src/stress/options';
import { buildReport, formatReport } from '../../src/stress/report';
import { newHistogram, requestFor } from '../../src/stress/worker';

const STRESS_ENTRY = path.join(__dirname, '..', '..', 'src', 'stress', 'index.js');

describe('stress tool', () => {
  describe('mix', () => {
    it('reads weighted operations and picks in proportion', () => {
      const mix = parseMix('set:1, get:3');
      expect(mix).to.deep.equal([
        { op: 'set', weight: 1 },
        { op: 'get', weight: 3 },
      ]);
      expect(pick(mix, 0)).to.equal('set');
      expect(pick(mix, 0.2499)).to.equal('set');
      expect(pick(mix, 0.25)).to.equal('get');
      expect(pick(mix, 0.9999)).to.equal('get');
      expect(pick(parseMix('get:0,rm:5'), 0)).to.equal('rm');
    });

    for (const bad of ['', 'set', 'set:x', 'put:1', 'set:1,set:2', 'set:0,get:0', 'set:-1']) {
      it(`refuses STRESS_MIX=${JSON.stringify(bad)}`, () => {
        expect(() => parseMix(bad)).to.throw(/STRESS_MIX/);
      });
    }

    it('builds the request of each operation', () => {
      expect(requestFor('set', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/set?k=stress-7&v=vv' });
      expect(requestFor('get', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/get?k=stress-7' });
      expect(requestFor('index', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/' });
      expect(requestFor('whoami', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/whoami' });
      expect(requestFor('keys-list', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/admin/keys/list' });
      expect(requestFor('tenants-list', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/admin/tenants/list' });
      expect(requestFor('metrics', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/metrics' });
      expect(requestFor('ui', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/ui' });
      expect(requestFor('watch', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/watch?k=stress-7&wait=0' });
      expect(requestFor('publish', 7, 'vv')).to.deep.equal({ method: 'GET', path: '/publish?t=stress&m=vv' });
      expect(requestFor('set-ttl', 7, 'vv').path).to.equal('/set?k=stress-7&v=vv&ttl=1m');
      expect(requestFor('scan', 7, 'vv').path).to.equal('/scan?after=stress-7&limit=10');
      expect(requestFor('kv-put', 7, 'vv')).to.deep.equal({ method: 'PUT', path: '/kv/stress-7', body: 'vv' });
      expect(requestFor('kv-delete', 7, 'vv')).to.deep.equal({ method: 'DELETE', path: '/kv/stress-7' });
      const batch = requestFor('batch', 8, 'vv', 10);
      expect(batch.method).to.equal('POST');
      expect((JSON.parse(batch.body as string) as { ops: { k: string }[] }).ops.map((op) => op.k)).to.deep.equal(['stress-8', 'stress-9', ...Array.from({ length: 8 }, (_, i) => `stress-${i}`)]);
      for (const op of OPERATIONS) expect(requestFor(op, 1, 'v').path, op).to.match(/^\//);
    });
  });

  describe('response reading', () => {
    const b = (text: string) => Buffer.from(text, 'latin1');
    it('finds the end of a Content-Length answer, and waits for an incomplete one', () => {
      const full = 'HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello';
      expect(parseResponse(b(full))).to.deep.equal({ status: 404, length: full.length, close: false });
      expect(parseResponse(b(full.slice(0, -1)))).to.equal(undefined);
      expect(parseResponse(b('HTTP/1.1 200 OK\r\nContent-Len'))).to.equal(undefined);
    });
    it('reads chunked answers and Connection: close', () => {
      const chunked = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
      expect(parseResponse(b(chunked))).to.deep.equal({ status: 200, length: chunked.length, close: true });
      expect(parseResponse(b(chunked.slice(0, -3)))).to.equal(undefined);
    });
  });

  describe('a keep-alive connection', () => {
    // A raw TCP server whose every connection answers `answers` requests, then closes on the
    // next one without a byte (a backend killed behind the balancer).
    let server: net.Server;
    let port: number;
    let answers = 1;
    let connections = 0;
    const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}';
    before(async () => {
      server = net.createServer((socket) => {
        connections++;
        let left = answers;
        socket.on('data', () => {
          if (left-- > 0) socket.write(OK);
          else socket.destroy();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('sends a request again once when a reused connection closes before answering it', async () => {
      answers = 1;
      connections = 0;
      const connection = new HttpConnection('127.0.0.1', port, `127.0.0.1:${port}`);
      expect(await connection.get('/get?k=a', 2000)).to.equal(200);
      expect(await connection.get('/get?k=b', 2000)).to.equal(200);
      connection.close();
      expect(connection.resent).to.equal(1);
      expect(connections).to.equal(2);
    });
    it('fails a request whose fresh connection closes before answering: nothing is sent again', async () => {
      answers = 0;
      const connection = new HttpConnection('127.0.0.1', port, `127.0.0.1:${port}`);
      const failure = await connection.get('/get?k=a', 2000).then(
        () => undefined,
        (error: Error) => error.message,
      );
      connection.close();
      expect(failure).to.equal('closed');
      expect(connection.resent).to.equal(0);
    });
  });

  describe('settings', () => {
    it('has defaults, and reads every variable and --json', () => {
      const defaults = readStressOptions({}, []);
      expect(defaults).to.include({ serviceUrl: 'http://127.0.0.1:8080', amount: 10_000, clusters: 1, workers: 50, maxErrorRate: 0 });
      const options = readStressOptions(
        {
          SERVICE_URL: 'http://lb:8080/',
          STRESS_DURATION: '2m',
          STRESS_CLUSTERS: '4',
          STRESS_WORKERS: '10',
          STRESS_MIX: 'get:9,set:1',
          STRESS_MAX_ERROR_RATE: '0.01',
          STRESS_KEYS: '100',
          STRESS_VALUE_LENGTH: '0',
        },
        ['--json', 'out.json'],
      );
      expect(options).to.include({ serviceUrl: 'http://lb:8080', amount: undefined, durationSeconds: 120, clusters: 4, workers: 10, maxErrorRate: 0.01, keys: 100, valueLength: 0, jsonFile: 'out.json' });
      expect(readStressOptions({}, ['--json=r.json']).jsonFile).to.equal('r.json');
      expect(readStressOptions({ SERVICE_KEY: 'k1' }, [])).to.include({ apiKey: 'k1', tls: undefined });
      expect(readStressOptions({ SERVICE_URL: 'https://db:8443' }, []).tls).to.deep.equal({});
    });

    it('reports every problem at once', () => {
      let caught: unknown;
      try {
        readStressOptions(
          { SERVICE_URL: 'ftp://x', STRESS_AMOUNT: '10', STRESS_DURATION: 'forever', STRESS_CLUSTERS: '0', STRESS_MIX: 'fly:1', STRESS_MAX_ERROR_RATE: '5%' },
          ['--verbose'],
        );
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(StressConfigError);
      const text = (caught as StressConfigError).problems.join('\n');
      for (const part of ['SERVICE_URL', 'STRESS_DURATION', 'STRESS_CLUSTERS', 'STRESS_MIX', 'STRESS_MAX_ERROR_RATE', '--verbose']) expect(text).to.contain(part);
      expect(() => readStressOptions({ STRESS_AMOUNT: '5', STRESS_DURATION: '5' }, [])).to.throw(/not both/);
    });
  });

  describe('report', () => {
    const latencyMs = { p50: 1, p90: 2, p99: 3, p999: 4, max: 5, mean: 1.5 };

    it('throughput is requests per second of the run; latency is per request: two different things', () => {
      const report = buildReport({ requests: 1000, misses: 10, resent: 0, errors: {}, seconds: 2, latencyMs }, 0);
      expect(report.throughput).to.equal(500);
      expect(report.latencyMs.p50).to.equal(1);
      expect(report.passed).to.equal(true);
      const text = formatReport(report, 'test');
      expect(text).to.contain('throughput  500 requests/s').and.contain('p50 1.00 ms').and.contain('PASS');
    });

    it('counts errors by kind and fails above the allowed rate, or when nothing was sent', () => {
      const failing = buildReport({ requests: 200, misses: 0, resent: 0, errors: { 'HTTP 503': 3, ECONNREFUSED: 1 }, seconds: 1, latencyMs }, 0.01);
      expect(failing).to.include({ errorCount: 4, errorRate: 0.02, passed: false });
      expect(formatReport(failing, 't')).to.contain('HTTP 503: 3').and.contain('FAIL');
      expect(buildReport({ requests: 200, misses: 0, resent: 0, errors: { timeout: 2 }, seconds: 1, latencyMs }, 0.01).passed).to.equal(true);
      expect(buildReport({ requests: 0, misses: 0, resent: 0, errors: {}, seconds: 1, latencyMs }, 1).passed).to.equal(false);
    });

    it('takes percentiles from the histogram to 3 significant digits', () => {
      const histogram = newHistogram();
      for (let us = 1; us <= 10_000; us++) histogram.recordValue(us);
      expect(histogram.getValueAtPercentile(50)).to.be.closeTo(5000, 5);
      expect(histogram.getValueAtPercentile(99)).to.be.closeTo(9900, 10);
      expect(histogram.getValueAtPercentile(99.9)).to.be.closeTo(9990, 10);
      expect(histogram.maxValue).to.be.closeTo(10_000, 10);
    });
  });

  describe('the command', () => {
    let server: http.Server;
    let port: number;
    let failEvery = 0;
    let count = 0;
    let limit = 256;
    before(async () => {
      server = http.createServer((req, res) => {
        if (req.url === '/status') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ maxKeyLength: 64, maxValueLength: limit }));
          return;
        }
        count++;
        const failing = failEvery > 0 && count % failEvery === 0;
        res.writeHead(failing ? 503 : req.url?.startsWith('/get') ? 404 : 200, { 'content-type': 'application/json' });
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const run = (env: Record<string, string>, args: string[] = []) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [STRESS_ENTRY, ...args], { env: { PATH: process.env.PATH ?? '', SERVICE_URL: `http://127.0.0.1:${port}`, ...env } });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        child.on('close', (code) => resolve({ code, out }));
      });

    it('sends exactly STRESS_AMOUNT requests over several threads, writes --json, exits 0', async () => {
      failEvery = 0;
      count = 0;
      const file = path.join(os.tmpdir(), `meshkv-stress-${process.pid}.json`);
      const { code, out } = await run({ STRESS_AMOUNT: '2000', STRESS_CLUSTERS: '2', STRESS_WORKERS: '8' }, ['--json', file]);
      expect(code, out).to.equal(0);
      expect(count).to.equal(2000);
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { requests: number; passed: boolean; throughput: number; latencyMs: { p99: number } };
      fs.rmSync(file);
      expect(json).to.include({ requests: 2000, passed: true });
      expect(json.throughput).to.be.above(0);
      expect(out).to.contain('PASS');
    });

    it('sends every operation of the mix to a real node without an error', async () => {
      const node = await NodeProcess.start('stress-mix', {});
      try {
        const file = path.join(os.tmpdir(), `meshkv-stress-mix-${process.pid}.json`);
        const mix = OPERATIONS.map((op) => `${op}:1`).join(',');
        const { code, out } = await run({ SERVICE_URL: node.url, STRESS_AMOUNT: '3000', STRESS_WORKERS: '4', STRESS_KEYS: '50', STRESS_MIX: mix, STRESS_MAX_ERROR_RATE: '0' }, ['--json', file]);
        const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { requests: number; errors: Record<string, number>; misses: number };
        fs.rmSync(file);
        expect(code, out).to.equal(0);
        expect(json.requests).to.equal(3000);
        expect(json.errors).to.deep.equal({});
        expect(json.misses, 'reads of keys not written yet, or deleted').to.be.above(0);
      } finally {
        await node.stop();
      }
    });

    it('sends every operation with SERVICE_KEY to a node that requires keys; says what to set without it', async () => {
      const ADMIN_KEY = 'stress-admin-key-0123456789';
      const node = await NodeProcess.start('stress-keys', { ADMIN_KEY });
      try {
        const mix = OPERATIONS.map((op) => `${op}:1`).join(',');
        const refused = await run({ SERVICE_URL: node.url, STRESS_AMOUNT: '100', STRESS_MIX: mix });
        expect(refused.code, refused.out).to.equal(2);
        expect(refused.out).to.contain('takes API keys (401 UNAUTHORIZED): set SERVICE_KEY').and.contain('Nothing was sent');
        const { code, out } = await run({ SERVICE_URL: node.url, SERVICE_KEY: ADMIN_KEY, STRESS_AMOUNT: '2000', STRESS_WORKERS: '4', STRESS_KEYS: '50', STRESS_MIX: mix, STRESS_MAX_ERROR_RATE: '0' });
        expect(code, out).to.equal(0);
        expect(out).to.not.contain(ADMIN_KEY);
      } finally {
        await node.stop();
      }
    });

    it('exits 1 when errors exceed STRESS_MAX_ERROR_RATE, naming them', async () => {
      failEvery = 10;
      count = 0;
      const { code, out } = await run({ STRESS_AMOUNT: '500', STRESS_WORKERS: '4', STRESS_MAX_ERROR_RATE: '0.05' });
      expect(code).to.equal(1);
      expect(out).to.contain('HTTP 503').and.contain('FAIL');
    });

    it('exits 1 against a closed port, and 2 on bad settings', async () => {
      const closed = await run({ SERVICE_URL: 'http://127.0.0.1:1', STRESS_AMOUNT: '20', STRESS_WORKERS: '2' });
      expect(closed.code).to.equal(1);
      expect(closed.out).to.contain('ECONNREFUSED');
      expect(closed.out).to.contain('cannot connect to SERVICE_URL').and.contain('Nothing was sent');
      expect(closed.out).not.to.contain('throughput');
      const bad = await run({ STRESS_WORKERS: 'many' });
      expect(bad.code).to.equal(2);
      expect(bad.out).to.contain('STRESS_WORKERS');
    });

    it("refuses a value longer than the server's MAX_VALUE_LENGTH (read from /status) before sending anything", async () => {
      count = 0;
      limit = 10;
      const { code, out } = await run({ STRESS_AMOUNT: '50', STRESS_VALUE_LENGTH: '32' });
      limit = 256;
      expect(code).to.equal(2);
      expect(out).to.contain("STRESS_VALUE_LENGTH (32) is above the server's MAX_VALUE_LENGTH (10)");
      expect(count).to.equal(0);
    });

    it('stops at STRESS_DURATION', async () => {
      failEvery = 0;
      const started = Date.now();
      const { code } = await run({ STRESS_DURATION: '1', STRESS_WORKERS: '2' });
      expect(code).to.equal(0);
      expect(Date.now() - started).to.be.below(10_000);
    });
  });
});
