import type { AddressInfo } from 'node:net';
import { AdminServer, type DiscoveryStatus, snapshot } from './admin';
import type { BalancerConfig } from './config';
import type { Backend, Discovery } from './discovery/backend';
import { DockerDiscovery } from './discovery/docker';
import { StaticDiscovery } from './discovery/static';
import type { Logger } from './logger';
import { HealthChecker } from './proxy/health';
import { BackendPool } from './proxy/pool';
import { TcpProxy } from './proxy/proxy';
import { BytePump, nativePump } from './proxy/pump';

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
  /** Why the native pump is not used, when it is not. */
  readonly pumpUnavailable: Error | undefined;
  address: AddressInfo | undefined;
  adminAddress: AddressInfo | undefined;

  constructor(
    private readonly config: BalancerConfig,
    private readonly logger: Logger,
    discovery?: Discovery & { status?: DiscoveryStatus },
  ) {
    this.pool = new BackendPool(config.downForMs);
    const pump = config.pump === 'javascript' ? new Error('PUMP=javascript') : nativePump();
    this.pumpUnavailable = pump instanceof BytePump ? undefined : pump;
    this.proxy = new TcpProxy(this.pool, { ...config, pump: pump instanceof BytePump ? pump : undefined }, logger);
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
        },
        logger,
      );
      this.discovery = docker;
      this.discoveryStatus = docker.status;
    }
    this.health = new HealthChecker(this.pool, config.healthIntervalMs, config.healthTimeoutMs, (_id, name, healthy, reason) => {
      if (healthy) logger.info({ backend: name }, 'backend healthy');
      else logger.warn({ backend: name, reason }, 'backend unhealthy: out of the pool');
    });
    this.admin = config.adminPort === 0 ? undefined : new AdminServer(() => this.stats());
  }

  stats(): unknown {
    return snapshot(this.proxy, this.pool, this.discoveryStatus, this.startedAt);
  }

  async start(): Promise<void> {
    if (this.config.pump === 'native' && this.pumpUnavailable !== undefined) {
      throw new Error(`PUMP=native, but ${this.pumpUnavailable.message}`, { cause: this.pumpUnavailable });
    }
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
  return { kind: 'static', connected: true, lists: 1, errors: 0, lastError: undefined, skipped: [] };
}
