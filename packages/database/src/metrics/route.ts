import type { Router } from '../http/router';
import type { NodeMetrics } from './node-metrics';

/**
 * GET /metrics: the node's metrics in Prometheus' text format. With API keys required it
 * takes a key with `read` and no tenant, like /status: it describes the whole node
 * (Prometheus sends it with `authorization` in its scrape config).
 */
export function registerMetricsRoute(router: Router, metrics: NodeMetrics): void {
  router.register(
    '/metrics',
    async (ctx) => {
      const { text, contentType } = await metrics.render();
      ctx.res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
      ctx.res.end(text);
    },
    { access: 'node' },
  );
}
