import * as http from 'node:http';
import * as net from 'node:net';
import { waitFor as waitUntil } from '@meshkv/common';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  json(): unknown;
}

/**
 * One request with the exact request target given (no URL normalisation, unlike fetch),
 * on a fresh connection unless an agent is passed.
 */
export function request(
  base: string,
  target: string,
  options: { method?: string; agent?: http.Agent; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; chunks?: readonly string[] } = {},
): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: target,
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
        });
      },
    );
    req.setTimeout(10000, () => req.destroy(new Error(`request timed out: ${target}`)));
    req.on('error', reject);
    // Written one by one without a Content-Length: the body goes chunked.
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end(options.body);
  });
}

/** POSTs a JSON body (already text, so malformed bodies can be sent too). */
export function post(base: string, target: string, body: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return request(base, target, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

/** True when the request fails at the connection level (refused, reset, cut mid-body). */
export function requestFails(base: string, target: string): Promise<boolean> {
  return request(base, target).then(
    () => false,
    () => true,
  );
}

/** Sends raw bytes on a new TCP connection and collects everything until the server closes it. */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close the connection in time'));
    }, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Polls `condition` until it holds or the deadline passes (5 s unless told). */
export function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<number> {
  return waitUntil(condition, timeoutMs, what);
}
