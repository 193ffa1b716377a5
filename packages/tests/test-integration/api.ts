import * as http from 'node:http';
import { waitFor } from '@meshkv/common';
import fetch from 'node-fetch';

/** Where the suite points: SERVICE_URL, by default the balancer of `npm start`. */
export const SERVICE_URL = (process.env.SERVICE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
/** MESH_URLS: the nodes' own URLs, comma-separated, for the cross-node checks. */
export const MESH_URLS = (process.env.MESH_URLS ?? '')
  .split(',')
  .map((u) => u.trim().replace(/\/+$/, ''))
  .filter((u) => u !== '');
/** A prefix no other run uses, so parallel runs and existing data do not collide. */
export const RUN = `it${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export interface Answer {
  readonly status: number;
  readonly headers: Headers | http.IncomingHttpHeaders;
  readonly text: string;
  json(): unknown;
  header(name: string): string | undefined;
}

/** GET (or another method) through node-fetch; the path is sent as given. */
export async function call(path: string, method = 'GET', base = SERVICE_URL): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers as unknown as Headers,
    text,
    json: () => JSON.parse(text) as unknown,
    header: (name) => res.headers.get(name) ?? undefined,
  };
}

/** A request target sent byte for byte (no URL normalisation), for malformed queries. */
export function raw(target: string, base = SERVICE_URL): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: target, method: 'GET', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => JSON.parse(text) as unknown,
          header: (name) => {
            const value = res.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
        }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${base} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

export const q = encodeURIComponent;

/** Polls until `condition` holds (true) or the deadline passes (throws). */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(condition, timeoutMs, what, { intervalMs: 50 });
}
