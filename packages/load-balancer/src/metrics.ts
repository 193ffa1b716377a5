import { collectNodeMetrics, counterOf, gaugeOf } from '@meshkv/common/metrics';
import { Registry } from 'prom-client';
import type { DiscoveryStatus } from './admin';
import type { BackendPool, PoolEntry } from './proxy/pool';
import type { TcpProxy } from './proxy/proxy';

/**
 * The balancer's Prometheus metrics (GET /metrics on the admin port): every value is read
 * from the proxy's, the pool's and the discovery's own counters when scraped, so the byte
 * path pays nothing for them. Bytes of a connection the native pump moves are counted when
 * it ends (as in /stats).
 */
export function balancerMetrics(proxy: TcpProxy, pool: BackendPool, discovery: DiscoveryStatus): Registry {
  const registry = new Registry();
  collectNodeMetrics(registry);
  const stats = proxy.stats;
  const perBackend = (read: (entry: PoolEntry) => number) => () => pool.list().map((entry) => [{ backend: entry.backend.name }, read(entry)] as const);

  counterOf({ name: 'meshkv_balancer_connections_total', help: 'Client connections accepted.', registry }, () => stats.accepted);
  gaugeOf({ name: 'meshkv_balancer_connections_active', help: 'Client connections open now.', registry }, () => stats.active);
  counterOf({ name: 'meshkv_balancer_connections_rejected_total', help: 'Client connections closed at once: no backend was usable.', registry }, () => stats.rejected);
  counterOf({ name: 'meshkv_balancer_connect_retries_total', help: 'Connects to a backend that failed; each was retried on the next backend.', registry }, () => stats.connectFailures);
  counterOf({ name: 'meshkv_balancer_idle_timeouts_total', help: 'Client connections closed by the idle timeout.', registry }, () => stats.idleTimeouts);
  counterOf({ name: 'meshkv_balancer_unhealthy_cuts_total', help: 'Client connections cut because their backend failed its health check.', registry }, () => stats.unhealthyCuts);
  counterOf({ name: 'meshkv_balancer_bytes_total', help: 'Bytes moved, by direction (in: from clients; out: to clients).', labelNames: ['direction'], registry }, () => [
    [{ direction: 'in' }, stats.bytesIn],
    [{ direction: 'out' }, stats.bytesOut],
  ]);

  gaugeOf({ name: 'meshkv_balancer_backends', help: 'Backends known, by state (up: usable; down: failing its health check or marked down after a failed connect).', labelNames: ['state'], registry }, () => {
    const up = pool.list().filter((entry) => pool.usable(entry)).length;
    return [
      [{ state: 'up' }, up],
      [{ state: 'down' }, pool.size - up],
    ];
  });
  gaugeOf({ name: 'meshkv_balancer_backend_up', help: '1 when the backend is usable, else 0.', labelNames: ['backend'], registry }, perBackend((entry) => (pool.usable(entry) ? 1 : 0)));
  gaugeOf({ name: 'meshkv_balancer_backend_connections_active', help: 'Connections open to each backend.', labelNames: ['backend'], registry }, perBackend((entry) => entry.active));
  counterOf({ name: 'meshkv_balancer_backend_connections_total', help: 'Connections made to each backend.', labelNames: ['backend'], registry }, perBackend((entry) => entry.total));
  counterOf({ name: 'meshkv_balancer_backend_connect_failures_total', help: 'Failed connects to each backend.', labelNames: ['backend'], registry }, perBackend((entry) => entry.connectFailures));
  counterOf({ name: 'meshkv_balancer_health_check_failures_total', help: 'Failed health checks of each backend.', labelNames: ['backend'], registry }, perBackend((entry) => entry.healthFailures));

  gaugeOf({ name: 'meshkv_balancer_discovery_connected', help: '1 while discovery works (Docker: connected to the API and its events; static: always).', registry }, () => (discovery.connected ? 1 : 0));
  counterOf({ name: 'meshkv_balancer_discovery_lists_total', help: 'Lists of the backends made by discovery.', registry }, () => discovery.lists);
  counterOf({ name: 'meshkv_balancer_discovery_events_total', help: 'Docker events read by discovery.', registry }, () => discovery.events);
  counterOf({ name: 'meshkv_balancer_discovery_errors_total', help: 'Discovery failures (the Docker API unreachable, a list that failed).', registry }, () => discovery.errors);
  return registry;
}
