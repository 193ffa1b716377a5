import type { AddressInfo } from 'node:net';
import { AdminServer, type DiscoveryStatus, snapshot } from './admin';
import type { BalancerConfig } from './config';
import type { Backend, Discovery } from './discovery/discovery';
import { DockerDiscovery } from './discovery/docker';
import { StaticDiscovery } from './discovery/static';
import type { Logger } from '@meshkv/common';
import { balancerMetrics } from './metrics';
import { HealthChecker } from './proxy/health';
import { probeInternals, setInternals } from './proxy/node-internals';
import { BackendPool } from './proxy/pool';
import { TcpProxy } from './proxy/proxy';
import { BytePump, nativePump } from './proxy/pump';

/** What a balancer is built with besides its configuration; tests replace the last two. */
export interface BalancerDependencies {
  readonly logger: Logger;
  /** Default: from the configuration (static BACKENDS, else Docker). */
  readonly discovery?: Discovery & { status?: DiscoveryStatus };
  /** Loads the native pump, or says why it cannot (default: the addon built by `npm run build`). */
  readonly loadPump?: () => BytePump | Error;
}

/** The balancer, wired: discovery -> pool (+ health checks) -> proxy, and the admin port. */
export class Balancer {
  readonly pool: BackendPool;
  readonly proxy: TcpProxy;
  readonly discoveryStatus: DiscoveryStatus;
  private readonly discovery: Discovery;
  private readonly health: HealthChecker;
  private readonly admin: AdminServer | undefined;
  private readonly startedAt = Date.now();
  private summary: NodeJS.Timeout | undefined;
  /** Why the native pump is not used, when it is not (known once started). */
  pumpUnavailable: Error | undefined;
  private readonly logger: Logger;
  private readonly loadPump: () => BytePump | Error;
  address: AddressInfo | undefined;
  adminAddress: AddressInfo | undefined;

  constructor(
    private readonly config: BalancerConfig,
    deps: BalancerDependencies,
  ) {
    const { logger, discovery } = deps;
    this.logger = logger;
    this.loadPump = deps.loadPump ?? nativePump;
    this.pool = new BackendPool(config.downForMs);
    this.proxy = new TcpProxy(this.pool, { ...config, pump: undefined }, logger);
    if (discovery !== undefined) {
      this.discovery = discovery;
      this.discoveryStatus = discovery.status ?? staticStatus();
    } else if (config.backends !== undefined) {
      this.discovery = new StaticDiscovery(config.backends);
      this.discoveryStatus = staticStatus();
    } else {
      const docker = new DockerDiscovery(
        {
          dockerApiLocation: config.dockerApiLocation,
          groupName: config.groupName,
          groupPort: config.groupPort,
          networkName: config.networkName,
          debounceMs: config.debounceMs,
          selfId: config.selfId,
          mode: config.dockerMode,
        },
        logger,
      );
      this.discovery = docker;
      this.discoveryStatus = docker.status;
    }
    this.health = new HealthChecker(this.pool, config.healthIntervalMs, config.healthTimeoutMs, (id, name, healthy, reason) => {
      if (healthy) {
        logger.info({ backend: name }, 'backend healthy');
        return;
      }
      // Its open connections would hang (a backend cut off answers nothing): close them, so
      // clients reconnect, and reach a healthy backend.
      const closed = this.proxy.closeBackend(id);
      logger.warn({ backend: name, reason, connectionsClosed: closed }, 'backend unhealthy: out of the pool, its connections closed');
    });
    this.admin = config.adminPort === 0 ? undefined : new AdminServer(() => this.stats(), config.adminToken, balancerMetrics(this.proxy, this.pool, this.discoveryStatus));
  }

  stats(): unknown {
    return snapshot(this.proxy, this.pool, this.discoveryStatus, this.startedAt);
  }

  async start(): Promise<void> {
    const pump = await this.choosePump();
    if (this.config.pump === 'native' && !(pump instanceof BytePump)) {
      throw new Error(`PUMP=native, but ${pump.message}`, { cause: pump });
    }
    this.pumpUnavailable = pump instanceof BytePump ? undefined : pump;
    this.proxy.usePump(pump instanceof BytePump ? pump : undefined);
    this.address = await this.proxy.listen(this.config.servicePort, this.config.bindAddress);
    if (this.admin !== undefined) {
      this.adminAddress = await this.admin.listen(this.config.adminPort, this.config.adminBindAddress);
    }
    this.discovery.start((backends) => this.onBackends(backends));
    this.health.start();
    if (this.config.summaryIntervalMs > 0) {
      this.summary = setInterval(() => this.logSummary(), this.config.summaryIntervalMs);
      this.summary.unref();
    }
  }

  /**
   * Checks the Node.js internals the fast paths need, on a loopback connection (without
   * them: the public API, with a warning); then the pump: none with PUMP=javascript, else
   * the native one if it loads and the internals are there; else the reason.
   */
  private async choosePump(): Promise<BytePump | Error> {
    const probe = await probeInternals();
    if (!probe.ok) {
      const reason = probe.reason ?? 'unknown';
      setInternals(false, reason);
      this.logger.warn({ reason }, 'Node.js socket internals are not as expected: reading with the public API, moving bytes in JavaScript');
      return new Error(`the Node.js socket internals it needs are not as expected (${reason})`);
    }
    return this.config.pump === 'javascript' ? new Error('PUMP=javascript') : this.loadPump();
  }

  /** Graceful stop: no new connections; open ones get DRAIN_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (this.summary !== undefined) clearInterval(this.summary);
    this.health.stop();
    await this.discovery.stop();
    await this.proxy.drain(this.config.drainTimeoutMs);
    await this.admin?.close();
  }

  private onBackends(backends: readonly Backend[]): void {
    const { added, removed } = this.pool.update(backends);
    for (const backend of added) this.logger.info({ backend: backend.name, address: `${backend.host}:${backend.port}` }, 'backend added');
    for (const backend of removed) this.logger.info({ backend: backend.name }, 'backend removed');
    if (added.length > 0) this.health.checkAll();
    if (this.pool.size === 0) this.logger.warn('no backends: new connections are closed at once');
  }

  private logSummary(): void {
    const stats = this.proxy.stats;
    const up = this.pool.list().filter((entry) => this.pool.usable(entry)).length;
    this.logger.info(
      { active: stats.active, accepted: stats.accepted, rejected: stats.rejected, bytesIn: stats.bytesIn, bytesOut: stats.bytesOut, backendsUp: up, backends: this.pool.size },
      'summary',
    );
  }
}

function staticStatus(): DiscoveryStatus {
  return { kind: 'static', connected: true, lists: 1, events: 0, errors: 0, lastError: undefined, skipped: [] };
}

/** A balancer built from `config`, not yet started. */
export function createBalancer(config: BalancerConfig, deps: BalancerDependencies): Balancer {
  return new Balancer(config, deps);
}
