import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { MeshKvClient, paths } from '@meshkv/client';
import { waitFor } from '@meshkv/common';
import fetch from 'node-fetch';

/** Where the suite points: SERVICE_URL, by default the balancer of `npm start`. */
export const SERVICE_URL = (process.env.SERVICE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
/** MESH_URLS: the nodes' own URLs, comma-separated, for the cross-node checks. */
export const MESH_URLS = (process.env.MESH_URLS ?? '')
  .split(',')
  .map((u) => u.trim().replace(/\/+$/, ''))
  .filter((u) => u !== '');
/** SERVICE_KEY: an API key sent with every request (when the nodes have ADMIN_KEY); with the admin scope, the security checks run too. */
export const SERVICE_KEY = process.env.SERVICE_KEY === undefined || process.env.SERVICE_KEY === '' ? undefined : process.env.SERVICE_KEY;
const readOptional = (name: string): Buffer | undefined => {
  const file = process.env[name];
  return file === undefined || file === '' ? undefined : fs.readFileSync(file);
};
/** For https:// URLs: SERVICE_CA_FILE, the CA that signed the nodes' certificates (as curl --cacert), and a client certificate (SERVICE_CERT_FILE, SERVICE_CERT_KEY_FILE) when they ask for one. */
export const SERVICE_TLS = { ca: readOptional('SERVICE_CA_FILE'), cert: readOptional('SERVICE_CERT_FILE'), key: readOptional('SERVICE_CERT_KEY_FILE') };
const tlsOptions = Object.fromEntries(Object.entries(SERVICE_TLS).filter(([, value]) => value !== undefined)) as { ca?: Buffer; cert?: Buffer; key?: Buffer };
const httpsAgent = new https.Agent({ ...tlsOptions, keepAlive: true });

/** The headers every request carries: the key, if any. */
export function keyHeaders(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/** A typed client of `url` with the suite's key and TLS settings (another key with `apiKey`). */
export function clientOf(url: string, apiKey: string | undefined = SERVICE_KEY): MeshKvClient {
  return new MeshKvClient({ url, ...(apiKey === undefined ? {} : { apiKey }), ...(Object.keys(tlsOptions).length === 0 ? {} : { tls: tlsOptions }) });
}

/** A prefix no other run uses, so parallel runs and existing data do not collide. */
export const RUN = `it${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export interface Answer {
  readonly status: number;
  readonly headers: Headers | http.IncomingHttpHeaders;
  readonly text: string;
  json(): unknown;
  header(name: string): string | undefined;
}

/** GET (or another method) through node-fetch, with the suite's key (or `options.key`; null: none); the path is sent as given. */
export async function call(path: string, method = 'GET', base = SERVICE_URL, options: { body?: string | Buffer; key?: string | null } = {}): Promise<Answer> {
  const headers = keyHeaders(options.key === null ? undefined : (options.key ?? SERVICE_KEY));
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(base.startsWith('https:') ? { agent: httpsAgent } : {}),
    signal: AbortSignal.timeout(10_000),
  });
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
    const secure = url.protocol === 'https:';
    const send = secure ? https.request : http.request;
    const req = send({ host: url.hostname, port: url.port, path: target, method: 'GET', agent: false, headers: keyHeaders(SERVICE_KEY), ...(secure ? tlsOptions : {}) }, (res) => {
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

/**
 * Skips the suite of `context`, saying so, when the service's index does not list `path`
 * (another nkvd server, or a MeshKV without those routes).
 */
export async function skipUnlessListed(context: Mocha.Context, path: string, what: string): Promise<void> {
  const answer = await call(paths.index());
  const routes = answer.status === 200 ? ((answer.json() as { routes?: { path: string }[] }).routes ?? []) : [];
  if (!routes.some((route) => route.path === path)) {
    process.stdout.write(`\n  ${what} skipped: the service does not list ${path} in its index\n`);
    context.skip();
  }
}
