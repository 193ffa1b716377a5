import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import { listen } from '@meshkv/common';
import type { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import type { BackendPool } from './proxy/pool';
import type { TcpProxy } from './proxy/proxy';

export interface DiscoveryStatus {
  /** docker: containers of a Compose service; swarm: tasks of a Swarm service (known once connected). */
  kind: 'docker' | 'swarm' | 'static';
  /** Docker: connected to the API and its event stream. */
  connected: boolean;
  lists: number;
  /** Docker events read (each may lead to a list). */
  events: number;
  errors: number;
  lastError: string | undefined;
  skipped: { name: string; reason: string }[];
}

/** Everything the balancer counts, as one JSON-ready object. */
export function snapshot(proxy: TcpProxy, pool: BackendPool, discovery: DiscoveryStatus, startedAt: number): unknown {
  return {
    uptimeMs: Date.now() - startedAt,
    connections: {
      active: proxy.stats.active,
      accepted: proxy.stats.accepted,
      rejected: proxy.stats.rejected,
      connectFailures: proxy.stats.connectFailures,
      idleTimeouts: proxy.stats.idleTimeouts,
      unhealthyCuts: proxy.stats.unhealthyCuts,
      // Open connections whose bytes the native pump moves (their bytes count when they end).
      pumped: proxy.pumped,
    },
    bytes: { in: proxy.stats.bytesIn, out: proxy.stats.bytesOut },
    backends: pool.list().map((entry) => ({
      id: entry.backend.id,
      name: entry.backend.name,
      address: `${entry.backend.host}:${entry.backend.port}`,
      state: pool.usable(entry) ? 'up' : 'down',
      health: entry.health,
      active: entry.active,
      total: entry.total,
      connectFailures: entry.connectFailures,
      healthFailures: entry.healthFailures,
      bytesIn: entry.bytesIn,
      bytesOut: entry.bytesOut,
      lastError: entry.lastError ?? null,
    })),
    discovery,
  };
}

/**
 * GET /stats (JSON), /metrics (Prometheus) and /healthcheck on ADMIN_PORT; with a token,
 * /stats and /metrics take it as a bearer token.
 */
export class AdminServer {
  private readonly server: http.Server;

  constructor(stats: () => unknown, token?: string, metrics?: Registry) {
    const expected = token === undefined ? undefined : digest(token);
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, body: unknown): void => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(405, { error: 'METHOD_NOT_ALLOWED', message: 'The admin port takes GET and HEAD.' });
      } else if ((path === '/stats' || path === '/metrics') && expected !== undefined && !sameDigest(bearer(req.headers.authorization), expected)) {
        res.setHeader('www-authenticate', 'Bearer realm="meshkv-balancer"');
        send(401, { error: 'UNAUTHORIZED', message: `The admin port takes Authorization: Bearer <ADMIN_TOKEN> for ${path}.` });
      } else if (path === '/stats') {
        send(200, stats());
      } else if (path === '/metrics' && metrics !== undefined) {
        metrics.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
            res.end(text);
          },
          (error: unknown) => send(500, { error: 'INTERNAL_ERROR', message: `The metrics could not be read: ${String(error)}` }),
        );
      } else if (path === '/healthcheck') {
        send(200, { status: 'ok' });
      } else {
        send(404, { error: 'NOT_FOUND', message: 'The admin port has /stats, /metrics and /healthcheck.' });
      }
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compared in constant time: the digests have one length whatever was sent. */
function sameDigest(text: string | undefined, expected: Buffer): boolean {
  return text !== undefined && timingSafeEqual(digest(text), expected);
}

function bearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^bearer +(.+)$/i.exec(header);
  return match === null ? undefined : (match[1] as string).trim();
}
