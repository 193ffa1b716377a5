import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { registerAdminRoutes } from './api/admin-routes';
import { registerBatchRoute } from './api/batch-route';
import { registerKeyRoutes } from './api/key-routes';
import { registerKvRoutes } from './api/kv-routes';
import { type KeyRecord, parseKeyRecord } from './auth/api-key';
import { keyGuard } from './auth/guard';
import { ReservedIndex } from './auth/key-index';
import { ADMIN_IDENTITY, KeyRing } from './auth/key-ring';
import { RequestMeter } from './auth/meter';
import { Tenants } from './auth/tenants';
import { registerRestRoutes } from './api/rest-routes';
import { registerWatchRoutes } from './api/watch-routes';
import { storageFaultError } from './api/params';
import { ApiError } from './errors';
import { HybridClock, type Now } from './clock/hlc';
import { realScheduler, type Scheduler, type Timer } from './clock/scheduler';
import type { NodeConfig } from './config';
import { Router } from './http/router';
import { HttpServer, type ServerTls } from './http/server';
import { TlsSource } from './http/tls';
import type { ClusterPicture, NodeLoad, StorageOpen } from '@meshkv/client';
import type { Logger } from '@meshkv/common';
import { MeshAuth } from './mesh/auth';
import { HttpTransport, MESH_SERVERNAME } from './mesh/http-transport';
import { Mesh } from './mesh/mesh';
import { connectLookup } from './mesh/seed-resolver';
import { registerMeshRoutes } from './mesh/routes';
import { NodeMetrics } from './metrics/node-metrics';
import { RequestStats } from './metrics/requests';
import { registerMetricsRoute } from './metrics/route';
import { BalancerView } from './ui/balancer-view';
import { ClusterPage } from './ui/cluster-page';
import { RecentChanges } from './ui/recent-changes';
import { MeshService } from './mesh/service';
import { type StorageAdapter, type StorageFault, StorageFaultError } from './storage/adapter';
import { LmdbAdapter } from './storage/lmdb';
import { MemoryAdapter } from './storage/memory';
import { ExpirySweep } from './store/expiry-sweep';
import { TENANT_PREFIX_MAX } from './store/namespace';
import { Store } from './store/store';
import { TombstonePurge } from './store/tombstone-purge';
import { packageVersion } from './package-version';
import { ChangeLog } from './watch/change-log';
import { Topics } from './watch/topics';
import { WatchHub } from './watch/watch-hub';

/** Names of what a node keeps beside its records (durable storage only). */
const META = { nodeId: 'nodeId', hlc: 'hlc', lastContact: 'lastContact', incarnation: 'incarnation', purgeHolders: 'purgeHolders' } as const;
/** Without ADMIN_KEY, no key can be made: it would be taken the day keys are required. */
const KEYS_OFF = new ApiError('FORBIDDEN', 'API keys are off on this node (no ADMIN_KEY): every route is open, and no key can be made. Set ADMIN_KEY on every node to require keys.', { keysRequired: false });
/** Connections per peer: a peer that hangs can hold no more sockets than this. */
const PEER_CONNECTIONS = 4;
/** ms between two saves of the clock and the last contact. */
const PERSIST_INTERVAL_MS = 1000;

export interface NodeDependencies {
  readonly logger: Logger;
  readonly now?: Now;
  /** The node cannot go on (it could not join within JOIN_TIMEOUT_MS); the process exits. */
  readonly onFatal?: (message: string) => void;
}

/** A database node, built and wired but not yet listening. */
export class DatabaseNode {
  readonly router = new Router();
  readonly server: HttpServer;
  readonly store: Store;
  readonly mesh: Mesh;
  readonly nodeId: string;
  /** The incarnation this run started with (see `incarnation` for the one now). */
  readonly startIncarnation: number;
  readonly startedAt: number;
  /** What opening the storage found (logged at start, shown in /status). */
  readonly storageOpen: StorageOpen;
  /** API keys: required when ADMIN_KEY is set. */
  readonly keys: KeyRing;
  /** What /metrics shows. */
  readonly metrics: NodeMetrics;
  /** Every request answered, by route, method and status (metrics, and the figures told to peers). */
  private readonly requests = new RequestStats();
  /** The cluster page, /ui. */
  readonly page: ClusterPage;
  /** The node's recent changes, for watchers. */
  readonly changes: ChangeLog;
  /** Every open watch and subscription. */
  readonly watches: WatchHub;
  readonly topics: Topics;
  private readonly adapter: StorageAdapter;
  private readonly clock: HybridClock;
  private readonly purge: TombstonePurge;
  private readonly sweep: ExpirySweep;
  private address: AddressInfo | undefined;
  private persistTimer: Timer | undefined;
  /** The storage fault last logged (see persistOrRecover). */
  private reportedFault: StorageFault | undefined;
  private readonly scheduler: Scheduler;
  /** The certificate the node serves (HTTPS), and the one it presents to its peers (mesh TLS). */
  private readonly serverTls: TlsSource | undefined;
  private readonly meshTls: TlsSource | undefined;
  private readonly transport: HttpTransport;

  constructor(
    readonly config: NodeConfig,
    private readonly deps: NodeDependencies,
  ) {
    const now = deps.now ?? Date.now;
    const opening = performance.now();
    // May throw StorageOpenError (a data folder it cannot use): the caller exits.
    this.adapter =
      config.storage === 'lmdb'
        ? LmdbAdapter.open({ directory: config.dataDir, durability: config.durability, batchIntervalMs: config.durabilityIntervalMs, minFreeBytes: config.minFreeDiskBytes })
        : new MemoryAdapter();
    // A node keeps its id with its data: peers then see it restart, not a stranger.
    this.nodeId = config.nodeId ?? this.adapter.getMeta(META.nodeId) ?? randomBytes(8).toString('hex');
    if (config.storage === 'lmdb') this.adapter.setMeta(META.nodeId, this.nodeId);
    // Grows at every start: the start time, but above the one saved by the previous run
    // when the clock went back. Peers use it to tell a restarted node from its previous
    // life; a memory node whose clock went back learns a higher one from its peers.
    this.startedAt = now();
    this.startIncarnation = Math.max(this.startedAt, this.savedNumber(META.incarnation) + 1);
    if (config.storage === 'lmdb') this.adapter.setMeta(META.incarnation, String(this.startIncarnation));
    this.clock = new HybridClock(now);
    // Never issue a version below one issued before the restart, even if the wall clock
    // went back meanwhile (the records' own versions are observed by the Store too).
    this.clock.observe(this.savedNumber(META.hlc));
    this.store = new Store(this.adapter, this.clock, this.nodeId, {
      maxClockDriftMs: config.mesh.maxClockDriftMs,
      tombstoneTtlMs: config.mesh.tombstoneTtlMs,
      now,
      waitForDisk: config.storage === 'lmdb' && config.durability === 'sync',
      // A tenant's keys are stored under its prefix: the limit is the client's, plus the prefix.
      maxKeyLength: config.maxKeyLength + TENANT_PREFIX_MAX,
      maxValueLength: config.maxValueLength,
    });
    this.storageOpen = {
      records: this.store.liveCount,
      tombstones: this.store.tombstoneCount,
      ms: Math.round((performance.now() - opening) * 10) / 10,
      digests: this.store.digestsAtStart,
      ...(config.storage === 'lmdb' ? { dataDir: config.dataDir, durability: config.durability } : {}),
      ...(this.adapter instanceof LmdbAdapter && this.adapter.migrated !== undefined ? { migratedRecords: this.adapter.migrated } : {}),
    };
    const tlsError = (error: Error): void => deps.logger.error({ err: error }, 'cannot read the TLS files again: the certificate in use stays');
    const { clients, mesh: meshTls } = config.tls;
    this.meshTls = meshTls === undefined ? undefined : new TlsSource({ certFile: meshTls.certFile, keyFile: meshTls.keyFile, caFiles: [meshTls.caFile] }, tlsError);
    const serving = clients ?? meshTls;
    const caFiles = [clients?.caFile, meshTls?.caFile].filter((file): file is string => file !== undefined);
    this.serverTls = serving === undefined ? undefined : new TlsSource({ certFile: serving.certFile, keyFile: serving.keyFile, caFiles }, tlsError);
    const alternative = clients !== undefined && this.meshTls !== undefined ? { alternative: { servername: MESH_SERVERNAME, source: this.meshTls } } : {};
    const serverTls: ServerTls | undefined =
      this.serverTls === undefined ? undefined : { source: this.serverTls, requestCert: caFiles.length > 0, rejectUnauthorized: clients?.caFile !== undefined, ...alternative };
    const { tls: _settings, ...serverConfig } = config;
    this.server = new HttpServer(this.router, {
      ...serverConfig,
      ...(serverTls === undefined ? {} : { tls: serverTls }),
      logger: deps.logger,
      clientError: (error) => (error instanceof StorageFaultError ? storageFaultError(error.fault) : undefined),
    });
    const scheduler = { ...realScheduler, now };
    this.scheduler = scheduler;
    this.transport = new HttpTransport({
      secret: config.mesh.secret,
      connections: PEER_CONNECTIONS,
      connectTimeoutMs: Math.min(config.mesh.pingTimeoutMs, config.mesh.requestTimeoutMs),
      ...(config.mesh.dnsServers.length === 0 ? {} : { lookup: connectLookup(config.mesh.dnsServers) }),
      ...(this.meshTls === undefined ? {} : { tls: meshCredentials(this.meshTls) }),
    });
    this.mesh = new Mesh(
      config.mesh,
      this.store,
      {
        nodeId: this.nodeId,
        incarnation: this.startIncarnation,
        url: () => this.advertiseUrl,
        limits: { maxKeyLength: config.maxKeyLength, maxValueLength: config.maxValueLength, storage: config.storage },
        load: () => this.load(),
      },
      {
        transport: this.transport,
        scheduler,
        logger: deps.logger,
        ...(deps.onFatal === undefined ? {} : { onFatal: deps.onFatal }),
      },
    );
    this.mesh.restoreLastContact(this.savedNumber(META.lastContact));
    this.mesh.purgeGuard.restore(this.adapter.getMeta(META.purgeHolders));
    this.purge = new TombstonePurge(this.store, config.mesh.tombstoneTtlMs, scheduler, deps.logger, () => this.mesh.purgeHorizon);
    this.sweep = new ExpirySweep(this.store, scheduler);
    const limits = { maxKeyLength: config.maxKeyLength, maxValueLength: config.maxValueLength, maxTtlMs: config.maxTtlMs };
    const keys = new ReservedIndex<KeyRecord>(this.store, 'key', parseKeyRecord);
    this.keys = new KeyRing(keys, config.security.adminKey);
    const tenants = new Tenants(this.store, { maxKeys: config.security.tenantMaxKeys, maxBytes: config.security.tenantMaxBytes });
    const meter = new RequestMeter({
      defaultRate: config.security.rateLimit,
      divisor: config.security.rateLimitSplit ? () => this.mesh.membership.alive().length + 1 : () => 1,
      now,
    });
    const kv = {
      store: this.store,
      limits,
      ...(this.keys.enabled ? { quota: tenants.check } : {}),
      replication: this.mesh,
      writeDefaults: { w: config.mesh.writeConcern, timeoutMs: config.mesh.writeTimeoutMs },
      sendTimeoutMs: config.sendTimeoutMs,
      writeHooks: [
        () => (this.mesh.joined || this.mesh.isReady ? undefined : ApiError.of('NOT_JOINED')),
        () => (this.mesh.duplicateOf !== undefined ? ApiError.of('DUPLICATE_NODE_ID') : undefined),
        () => (this.mesh.clock.skewed ? ApiError.of('CLOCK_SKEW') : undefined),
        () => {
          const fault = this.store.storageFault;
          return fault === undefined ? undefined : storageFaultError(fault);
        },
      ],
    };
    if (this.keys.enabled) this.router.addHook(keyGuard({ ring: this.keys, meter }));
    registerKeyRoutes(this.router, {
      store: this.store,
      keys,
      tenants,
      meter,
      replication: this.mesh,
      writeDefaults: kv.writeDefaults,
      writeHooks: this.keys.enabled ? kv.writeHooks : [...kv.writeHooks, () => KEYS_OFF],
      now,
    });
    registerKvRoutes(this.router, kv);
    registerRestRoutes(this.router, kv);
    registerBatchRoute(this.router, { ...kv, batchMaxOps: config.batchMaxOps, maxBatchBytes: config.mesh.maxBodyBytes });
    this.changes = new ChangeLog(this.store, { maxEvents: config.watch.bufferEvents, maxBytes: config.watch.bufferBytes });
    this.watches = new WatchHub(this.changes, scheduler, {
      ...config.watch,
      graceMs: config.sendTimeoutMs,
      // ADMIN_KEY stays valid while the node runs; a key made with it, while its record holds a value.
      keyValid: (principal) => principal.id === ADMIN_IDENTITY.id || keys.get(principal.id) !== undefined,
    });
    this.topics = new Topics(this.watches);
    this.topics.relayTo((topic, message) => this.mesh.topics.send(topic, message));
    registerWatchRoutes(this.router, { hub: this.watches, log: this.changes, topics: this.topics, limits, graceMs: config.sendTimeoutMs });
    registerMeshRoutes(this.router, {
      service: new MeshService(this.mesh, this.store, (topic, message) => this.topics.deliver(topic, message)),
      auth: new MeshAuth(config.mesh.secret, now, this.meshTls === undefined ? undefined : () => (this.meshTls as TlsSource).material.caFingerprints),
      maxBodyBytes: config.mesh.maxBodyBytes,
      sendTimeoutMs: config.sendTimeoutMs,
    });
    registerAdminRoutes(this.router, {
      server: this.server,
      store: this.store,
      mesh: this.mesh,
      limits,
      identity: {
        version: packageVersion(),
        hostname: config.hostname,
        port: () => this.address?.port ?? config.port,
        nodeId: this.nodeId,
        incarnation: () => this.incarnation,
        advertiseUrl: () => this.advertiseUrl,
        storage: config.storage,
        storageOpen: this.storageOpen,
        startedAt: this.startedAt,
        now,
      },
    });
    const { watches, changes, topics, mesh } = this;
    const watch = {
      get connections() {
        return watches.connections;
      },
      stats: watches.stats,
      get bufferedEvents() {
        return changes.size;
      },
      get subscribers() {
        return topics.count;
      },
      relay: mesh.topics.stats,
    };
    this.metrics = new NodeMetrics({ server: this.server, store: this.store, storage: this.adapter, mesh: this.mesh, watch, requests: this.requests, nodeId: this.nodeId, version: packageVersion() });
    registerMetricsRoute(this.router, this.metrics);
    const balancer = config.ui.balancerUrl === undefined ? undefined : new BalancerView(config.ui.balancerUrl, config.ui.balancerToken);
    this.page = new ClusterPage({
      picture: () => this.picture(balancer),
      changes: new RecentChanges(this.store, now),
      scheduler,
      intervalMs: config.ui.intervalMs,
    });
    this.page.register(this.router);
    if (this.page.missing !== undefined) deps.logger.error(this.page.missing);
    if (deps.logger.isLevelEnabled('debug')) {
      this.server.on('request:end', (ctx, end) =>
        deps.logger.debug({ method: ctx.method, path: ctx.path, ...end }, 'request'),
      );
    }
  }

  /** Listens, then joins the mesh. */
  async listen(): Promise<AddressInfo> {
    this.address = await this.server.listen(this.config.port, this.config.bindAddress);
    this.serverTls?.watch();
    this.meshTls?.watch();
    if (!this.keys.enabled) this.deps.logger.warn('ADMIN_KEY is not set: every route is open to whoever reaches this node, /clear included (docs/security.md)');
    this.mesh.start();
    this.purge.start();
    this.sweep.start();
    if (this.config.storage === 'lmdb') {
      this.persistTimer = this.scheduler.every(PERSIST_INTERVAL_MS, () => this.persistOrRecover());
    }
    return this.address;
  }

  /**
   * Reads the certificates again (SIGHUP; a change of the files does it by itself): new
   * connections, from clients and to peers, use them; open ones go on. False when a file
   * could not be read (the certificates in use stay, and the error is logged).
   */
  reloadTls(): boolean {
    const served = this.serverTls?.reload() ?? true;
    const mesh = this.meshTls?.reload() ?? true;
    if (this.meshTls !== undefined) this.transport.reloadTls();
    if (served && mesh && (this.serverTls !== undefined || this.meshTls !== undefined)) this.deps.logger.info('TLS certificates read again');
    return served && mesh;
  }

  /** The incarnation peers know this node by now. */
  get incarnation(): number {
    return this.mesh.self().incarnation;
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
    return `${this.config.tls.enabled ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.address.port}`;
  }

  /** See HttpServer.shutdown; resolves when every connection is closed. */
  async shutdown(): Promise<void> {
    // Open pages and watches go to another node (their streams would hold the shutdown up).
    this.page.close();
    this.watches.close();
    // Leave first, while pings are still answered (peers check the notice by pinging back).
    await this.mesh.leave();
    await this.server.shutdown(this.config.shutdownTimeoutMs, this.config.shutdownDrainMs);
    await this.mesh.stop();
    this.purge.stop();
    this.sweep.stop();
    this.serverTls?.stop();
    this.meshTls?.stop();
    this.persistTimer?.cancel();
    if (this.config.storage === 'lmdb') {
      this.persistState();
      this.store.saveSummary();
    }
    await this.adapter.close();
  }

  /** The cluster as the page shows it now. */
  private picture(balancer: BalancerView | undefined): ClusterPicture {
    return {
      at: this.scheduler.now(),
      self: {
        url: this.advertiseUrl,
        nodeId: this.nodeId,
        version: packageVersion(),
        ready: this.mesh.isReady,
        tombstones: this.store.tombstoneCount,
        clockOffsetMs: this.mesh.clockStatus().offsetMs,
        load: this.load(),
      },
      peers: this.mesh.peerStatus().map(({ url, nodeId, state, ready, lastContactMs, outbox, load }) => ({ url, nodeId, state, ready, lastContactMs, outbox, load })),
      balancer: balancer?.picture() ?? null,
    };
  }

  /** This node's figures, told to its peers with every ping and shown by the cluster page. */
  load(): NodeLoad {
    const { reads, writes } = this.requests.totals();
    const lag = this.mesh.replicationLag;
    return { records: this.store.liveCount, outbox: this.mesh.outboxDepth, reads, writes, lagCount: lag.count, lagSum: lag.sum };
  }

  /** A number a previous run saved beside the records; 0 when there is none. */
  private savedNumber(name: string): number {
    return Number(this.adapter.getMeta(name) ?? 0) || 0;
  }

  /**
   * Every PERSIST_INTERVAL_MS: measures the disk (and hands it again what failed to
   * commit), then saves the node's state unless the storage cannot be written.
   */
  private persistOrRecover(): void {
    this.store.checkStorage();
    const fault = this.store.storageFault;
    if (fault !== this.reportedFault) {
      if (fault === undefined) this.deps.logger.info('storage writable again: the node takes writes');
      else this.deps.logger.error({ storageFault: fault }, 'storage cannot be written: writes are answered 507 until it can, reads go on');
      this.reportedFault = fault;
    }
    if (fault === undefined) this.persistState();
  }

  /** Saves the clock and the last contact with a peer, for the next start. */
  private persistState(): void {
    this.adapter.setMeta(META.hlc, String(this.clock.peek()));
    this.adapter.setMeta(META.lastContact, String(this.mesh.lastContact));
    this.adapter.setMeta(META.incarnation, String(this.incarnation));
    this.adapter.setMeta(META.purgeHolders, this.mesh.purgeGuard.encode());
  }
}

/** What the mesh transport presents to peers and checks them against, from the mesh TLS files as they are now. */
function meshCredentials(source: TlsSource): () => { cert: Buffer; key: Buffer; ca: Buffer[] } {
  return () => {
    const { cert, key, ca } = source.material.context;
    return { cert: cert as Buffer, key: key as Buffer, ca: (Array.isArray(ca) ? ca : [ca]) as Buffer[] };
  };
}

/** A node built from `config`; may throw StorageOpenError (a data folder it cannot use). */
export function createNode(config: NodeConfig, deps: NodeDependencies): DatabaseNode {
  return new DatabaseNode(config, deps);
}
