import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { registerAdminRoutes } from './api/admin-routes';
import { registerKvRoutes } from './api/kv-routes';
import { HybridClock, type Now } from './clock/hlc';
import type { NodeConfig } from './config';
import { Router } from './http/router';
import { HttpServer } from './http/server';
import type { Logger } from './logger';
import { MeshAuth } from './mesh/auth';
import { Mesh } from './mesh/mesh';
import { registerMeshRoutes } from './mesh/routes';
import { MemoryAdapter } from './storage/memory';
import { Store } from './store';
import { packageVersion } from './version';

export interface NodeDependencies {
  readonly logger: Logger;
  readonly now?: Now;
}

/** A database node, built and wired but not yet listening. */
export class DatabaseNode {
  readonly router = new Router();
  readonly server: HttpServer;
  readonly store: Store;
  readonly mesh: Mesh;
  readonly nodeId: string;
  readonly incarnation: number;
  private address: AddressInfo | undefined;

  constructor(
    readonly config: NodeConfig,
    private readonly deps: NodeDependencies,
  ) {
    const now = deps.now ?? Date.now;
    this.nodeId = config.nodeId ?? randomBytes(8).toString('hex');
    // Grows at every start as long as the wall clock does; peers use it to tell a
    // restarted node from its previous life.
    this.incarnation = now();
    this.store = new Store(new MemoryAdapter(), new HybridClock(now), this.nodeId, {
      maxClockDriftMs: config.mesh.maxClockDriftMs,
      tombstoneTtlMs: config.mesh.tombstoneTtlMs,
      now,
    });
    this.server = new HttpServer(this.router, { ...config, logger: deps.logger });
    this.mesh = new Mesh(
      config.mesh,
      this.store,
      { nodeId: this.nodeId, incarnation: this.incarnation, url: () => this.advertiseUrl },
      deps.logger,
      now,
    );
    const limits = { maxKeyLength: config.maxKeyLength, maxValueLength: config.maxValueLength };
    registerKvRoutes(this.router, this.store, limits, this.mesh, {
      w: config.mesh.writeConcern,
      timeoutMs: config.mesh.writeTimeoutMs,
    });
    registerMeshRoutes(this.router, this.mesh, this.store, new MeshAuth(config.mesh.secret), config.mesh.maxBodyBytes);
    registerAdminRoutes(this.router, this.server, this.store, this.mesh, limits, {
      version: packageVersion(),
      hostname: config.hostname,
      port: () => this.address?.port ?? config.port,
      nodeId: this.nodeId,
      incarnation: this.incarnation,
      advertiseUrl: () => this.advertiseUrl,
      storage: config.storage,
      startedAt: this.incarnation,
      now,
    });
    if (deps.logger.isLevelEnabled('debug')) {
      this.server.on('request:end', (ctx, end) =>
        deps.logger.debug({ method: ctx.method, path: ctx.path, ...end }, 'request'),
      );
    }
  }

  /** Listens, then joins the mesh. */
  async listen(): Promise<AddressInfo> {
    this.address = await this.server.listen(this.config.port, this.config.bindAddress);
    this.mesh.start();
    return this.address;
  }

  /** ADVERTISE_URL, with the real port when the configured one was 0. */
  get advertiseUrl(): string {
    const configured = this.config.advertiseUrl;
    if (this.address === undefined || !/:0$/.test(configured)) return configured;
    return configured.replace(/:0$/, `:${this.address.port}`);
  }

  /** The base URL this node answers on, once listening. */
  get url(): string {
    if (this.address === undefined) throw new Error('The node is not listening yet');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.address.port}`;
  }

  /** See HttpServer.shutdown; resolves when every connection is closed. */
  async shutdown(): Promise<void> {
    await this.server.shutdown(this.config.shutdownTimeoutMs, this.config.shutdownDrainMs);
    await this.mesh.stop();
  }
}
