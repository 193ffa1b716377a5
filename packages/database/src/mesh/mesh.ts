import type { ClockStatus, PeerStatus, SyncReport, TombstonePurgeStatus } from '@meshkv/client';
import type { Buckets, Logger } from '@meshkv/common';
import type { Scheduler, Timer } from '../clock/scheduler';
import type { MeshConfig } from '../config';
import type { ReplicateBody } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import type { Store } from '../store/store';
import type { PurgeHorizon } from '../store/tombstone-purge';
import { AntiEntropy } from './anti-entropy';
import { ClockWatch } from './clock-watch';
import { Membership, type NodeInfo, type NodeLimits, type NodeLoad, type Peer } from './membership';
import { nkvdPing } from './nkvd-ping';
import { Pinger } from './pinger';
import { PurgeGuard } from './purge-guard';
import { type ReceiveOutcome, Replicator } from './replicator';
import { type MeshStats, newMeshStats } from './stats';
import { SyncQueue } from './sync-queue';
import { TopicRelay } from './topic-relay';
import { dnsLookup, type Lookup, SeedResolver } from './seed-resolver';
import type { MeshTransport } from './transport';
import type { PingBody } from './wire';
import type { WriteConcern } from './write-concern';

export interface MeshIdentity {
  readonly nodeId: string;
  readonly incarnation: number;
  /** The advertised URL; known once the node listens (a port of 0 is resolved then). */
  readonly url: () => string;
  /** What this node can keep, told to its peers. */
  readonly limits?: NodeLimits;
  /** Its figures, told to its peers with every ping (the cluster page shows them). */
  readonly load?: () => NodeLoad;
}

export interface MeshDependencies {
  readonly transport: MeshTransport;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** The node cannot go on (JOIN_TIMEOUT_MS passed without joining): it should exit. */
  readonly onFatal?: (message: string) => void;
  /** How DNS seeds are looked up (default: DNS_SERVERS, else the system's resolver). */
  readonly lookup?: Lookup;
}

/**
 * One node's part of the mesh, put together from pieces with one job each, joined by
 * callbacks: the Membership table, the Pinger that drives it, the Replicator (outboxes
 * and write concern), the SyncQueue of anti-entropy rounds. This class owns the timers
 * (`start`/`stop`), readiness, and the reactions to membership events.
 */
export class Mesh {
  readonly membership: Membership;
  readonly stats: MeshStats = newMeshStats();
  /** This node's clock against its peers' (measured from the pings). */
  readonly clock: ClockWatch;
  /** Whom deletes wait for before their tombstones may be purged. */
  readonly purgeGuard = new PurgeGuard();
  /** Carries topic messages published here to the peers. */
  readonly topics: TopicRelay;
  /** MESH_NETWORK_URL's seeds, its DNS names looked up each ping round. */
  readonly seeds: SeedResolver;
  private readonly pinger: Pinger;
  private readonly replicator: Replicator;
  private readonly syncs: SyncQueue;
  private readonly timers: Timer[] = [];
  private ready: boolean;
  /** Grows past the identity's when a peer held this node at a higher one (see Pinger.learn). */
  private incarnation: number;
  private leaving = false;
  /** The URL of an earlier node with this node's id: then this one left the mesh for good. */
  private twin: string | undefined;

  constructor(
    private readonly config: MeshConfig,
    store: Store,
    private readonly identity: MeshIdentity,
    private readonly deps: MeshDependencies,
  ) {
    const { transport, scheduler, logger } = deps;
    this.incarnation = identity.incarnation;
    const self = (): NodeInfo => this.self();
    const isReady = (): boolean => this.ready;
    this.membership = new Membership(self, config, () => scheduler.now());
    this.clock = new ClockWatch(config.maxClockDriftMs, logger);
    this.topics = new TopicRelay(this.membership, transport, config.requestTimeoutMs, logger);
    // A node whose clock is off judges records from elsewhere by the mesh's time.
    store.correctRemoteTime(() => -this.clock.offsetMs);
    const scheme = identity.url().startsWith('https:') ? 'https' : 'http';
    this.seeds = new SeedResolver(config.seedSpecs, scheme, deps.lookup ?? dnsLookup(config.dnsServers), logger, () => scheduler.now());
    this.pinger = new Pinger({
      seeds: this.seeds,
      config,
      membership: this.membership,
      transport,
      store,
      logger,
      scheduler,
      self,
      ...(identity.load === undefined ? {} : { load: identity.load }),
      clock: this.clock,
      isReady,
      onAlone: () => {
        this.ready = true;
        if (this.pinger.joined) logger.info('no other node in sight: this node starts a mesh of its own');
        else logger.warn({ seeds: this.pinger.joinStatus().seeds }, 'no seed answered and START_ALONE=true: this node starts a mesh of its own (if the others run, this is a split brain)');
      },
      onJoinTimeout: (why) => {
        logger.fatal({ seeds: this.pinger.joinStatus().seeds }, `cannot join the mesh: ${why}`);
        this.deps.onFatal?.(`cannot join the mesh: ${why}`);
      },
      onWiped: () => {
        this.ready = false;
      },
      onTwin: (url) => {
        if (this.twin !== undefined) return;
        this.twin = url;
        logger.error({ nodeId: identity.nodeId, other: url }, 'another node, started earlier, has this NODE_ID: leaving the mesh and refusing writes (give each node its own NODE_ID, then restart this one)');
        void this.leave().then(() => this.pinger.stop());
      },
      onOutdated: (held) => {
        this.incarnation = Math.max(this.incarnation, held + 1);
      },
    });
    this.replicator = new Replicator({
      config,
      store,
      membership: this.membership,
      transport,
      stats: this.stats,
      logger,
      scheduler,
      onOverflow: (url) => this.syncs.request(url),
    });
    this.syncs = new SyncQueue({
      antiEntropy: new AntiEntropy(transport, store, config.requestTimeoutMs, config.batchSize),
      membership: this.membership,
      stats: this.stats,
      logger,
      scheduler,
      isReady,
      onSynced: (url, startedAt) => {
        const nodeId = this.membership.get(url)?.nodeId;
        if (nodeId !== undefined) this.purgeGuard.synced(nodeId, url, startedAt);
      },
      onRound: (peer) => {
        if (this.ready) return;
        this.ready = true;
        this.stats.bootstrap = this.stats.lastSync;
        logger.info({ peer: peer.url, ms: this.stats.lastSync?.ms, records: store.liveCount }, 'bootstrap complete: ready');
      },
    });
    // A node with no seed is the first of its mesh: it has nobody to catch up with.
    this.ready = config.seedSpecs.length === 0;
    this.membership.on('join', (peer) => this.onJoin(peer));
    this.membership.on('recover', (peer) => this.onRecover(peer));
    this.membership.on('restart', (peer) => this.onRestart(peer));
    this.membership.on('down', (peer) => this.onDown(peer));
    this.membership.on('forget', (peer) => this.onForget(peer));
    this.membership.on('leave', (peer) => {
      logger.info({ peer: peer.url, nodeId: peer.nodeId }, 'peer left the mesh');
      if (peer.nodeId !== undefined) this.purgeGuard.left(peer.nodeId);
      this.onForget(peer);
    });
  }

  /**
   * Tombstones older than this (ms) may be purged: every node that may hold the records
   * they deleted has them (PurgeGuard), give or take the clock offsets MAX_CLOCK_DRIFT_MS allows.
   */
  get purgeHorizonMs(): number {
    return this.purgeGuard.horizonMs - this.config.maxClockDriftMs;
  }

  /** What tombstones may be purged (see PurgeHorizon): arrivals are on this node's clock, so no drift is allowed for. */
  get purgeHorizon(): PurgeHorizon {
    return { writtenBeforeMs: this.purgeHorizonMs, arrivedBeforeMs: this.purgeGuard.horizonMs };
  }

  /** Records waiting in the outboxes, every peer's together. */
  get outboxDepth(): number {
    let depth = 0;
    for (const peer of this.membership.list()) depth += this.replicator.queue(peer.url).depth;
    return depth;
  }

  /** How late replicated writes arrive here (see Replicator.lag). */
  get replicationLag(): Buckets {
    return this.replicator.lag;
  }

  /** Holds what its peers hold, its clock agrees with theirs, and its id is its own. */
  get isReady(): boolean {
    return this.ready && !this.clock.skewed && this.twin === undefined;
  }

  /** The URL of an earlier node with this node's NODE_ID, if one was met (this one then left the mesh). */
  /** False while this node has seeds and none ever answered: it takes no writes (a split brain otherwise). */
  get joined(): boolean {
    return this.pinger.joined;
  }

  joinStatus(): ReturnType<Pinger['joinStatus']> {
    return this.pinger.joinStatus();
  }

  get duplicateOf(): string | undefined {
    return this.twin;
  }

  self(): NodeInfo {
    const limits = this.identity.limits;
    const info = { nodeId: this.identity.nodeId, url: this.identity.url(), incarnation: this.incarnation, ready: this.isReady, ...(limits === undefined ? {} : { limits }) };
    return this.leaving ? { ...info, leaving: true } : info;
  }

  /** What /status shows of the tombstone purge. */
  purgeStatus(): TombstonePurgeStatus {
    const horizon = this.purgeHorizonMs;
    return { heldUntil: horizon === Infinity ? null : Math.max(0, horizon), waitingFor: this.purgeGuard.status() };
  }

  /** What /status shows of the clock. */
  clockStatus(): ClockStatus {
    return { offsetMs: this.clock.offsetMs, skewed: this.clock.skewed, thresholdMs: this.clock.thresholdMs, peers: this.clock.peers };
  }

  start(): void {
    if (this.config.secret === undefined) {
      this.deps.logger.warn('MESH_SECRET is not set: any client that reaches this node can use its mesh routes');
    }
    const { scheduler } = this.deps;
    this.timers.push(scheduler.every(this.config.pingIntervalMs, () => void this.pinger.round()));
    this.timers.push(scheduler.every(this.config.aeIntervalMs, () => this.syncs.periodic()));
    // DNS seeds are looked up before the first round: it pings what they name.
    void this.seeds.refresh().then(() => this.pinger.round());
  }

  /**
   * Tells every member this node leaves the mesh: they remove it at once, so their w=all
   * stops waiting for it. From now on its pings say so. Its own writes still replicate
   * until `stop`. Once only.
   */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    await this.pinger.leave();
  }

  /**
   * Leaves the mesh (see `leave`), then stops every timer and connection. Pings are still answered, saying it leaves.
   * `leave: false` stops without a word, as a crash would (tests).
   */
  async stop({ leave = true }: { leave?: boolean } = {}): Promise<void> {
    for (const timer of this.timers.splice(0)) timer.cancel();
    if (leave) await this.leave();
    this.pinger.stop();
    this.syncs.stop();
    this.replicator.close();
    await this.deps.transport.close();
  }

  // ---- the parts, as the node and its routes see them ------------------------------

  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined {
    return this.replicator.replicateWrite(key, record, concern);
  }

  replicateWrites(writes: readonly (readonly [string, StoredRecord])[], concern: WriteConcern): Promise<void> | undefined {
    return this.replicator.replicateWrites(writes, concern);
  }

  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined {
    return this.replicator.replicateClear(watermark, concern);
  }

  receive(body: ReplicateBody): ReceiveOutcome {
    return this.replicator.receive(body);
  }

  onPing(body: PingBody): ReturnType<Pinger['answer']> {
    return this.pinger.answer(body);
  }

  onNkvdPing(hosts: readonly string[]): ReturnType<typeof nkvdPing> {
    return nkvdPing(this.membership, this.self(), hosts);
  }

  /** One ping round now (the timer runs them every PING_INTERVAL_MS). */
  pingRound(): Promise<void> {
    return this.pinger.round();
  }

  get lastContact(): number {
    return this.pinger.lastContact;
  }

  restoreLastContact(at: number): void {
    this.pinger.restoreLastContact(at);
  }

  syncNow(url: string): Promise<SyncReport> {
    return this.syncs.syncNow(url);
  }

  requestSync(url: string): void {
    this.syncs.request(url);
  }

  peerStatus(): PeerStatus[] {
    const now = this.deps.scheduler.now();
    return this.membership.list().map((peer) => {
      const queue = this.replicator.queue(peer.url);
      return {
        url: peer.url,
        nodeId: peer.nodeId ?? null,
        incarnation: peer.incarnation,
        state: peer.state,
        ready: peer.ready,
        lastContactMs: peer.nodeId === undefined ? null : now - peer.lastContact,
        outbox: queue.depth,
        retrying: queue.retrying,
        degraded: this.replicator.isDegraded(peer),
        limits: peer.limits ?? null,
        load: peer.load ?? null,
      };
    });
  }

  // ---- membership events ------------------------------------------------------------

  private onJoin(peer: Peer): void {
    if (peer.nodeId !== undefined) this.purgeGuard.met(peer.nodeId, peer.url);
    this.compareLimits(peer);
    this.deps.logger.info({ peer: peer.url, nodeId: peer.nodeId, ready: peer.ready }, 'peer joined');
    if (!this.ready || peer.ready) this.syncs.request(peer.url);
  }

  /** Limits that differ lose writes quietly otherwise: a node refuses what it cannot keep, so say it at join. */
  private compareLimits(peer: Peer): void {
    const mine = this.identity.limits;
    const theirs = peer.limits;
    if (mine === undefined || theirs === undefined) return;
    if (mine.maxKeyLength === theirs.maxKeyLength && mine.maxValueLength === theirs.maxValueLength) return;
    this.deps.logger.warn(
      { peer: peer.url, mine, theirs },
      'this node and a peer have different MAX_KEY_LENGTH / MAX_VALUE_LENGTH: records longer than a node\'s limits are refused by it (w fails with WRITE_REFUSED); give every node the same limits',
    );
  }

  private onRecover(peer: Peer): void {
    this.deps.logger.info({ peer: peer.url, nodeId: peer.nodeId }, 'peer is back');
    if (!this.ready || peer.ready) this.syncs.request(peer.url);
  }

  private onRestart(peer: Peer): void {
    if (peer.nodeId !== undefined) this.purgeGuard.met(peer.nodeId, peer.url);
    this.compareLimits(peer);
    this.deps.logger.info({ peer: peer.url, nodeId: peer.nodeId, incarnation: peer.incarnation }, 'peer restarted');
    // What waited for its previous life is either there already or comes with a sync.
    this.replicator.drop(peer.url);
    if (!this.ready || peer.ready) this.syncs.request(peer.url);
  }

  private onDown(peer: Peer): void {
    this.deps.logger.warn({ peer: peer.url, nodeId: peer.nodeId }, 'peer is down');
    this.replicator.drop(peer.url);
    this.clock.forget(peer.url);
  }

  private onForget(peer: Peer): void {
    this.pinger.forget(peer.url);
    if (peer.nodeId !== undefined) this.deps.logger.info({ peer: peer.url, nodeId: peer.nodeId }, 'peer forgotten');
    this.replicator.remove(peer.url);
    this.clock.forget(peer.url);
    this.deps.transport.forget(peer.url);
  }
}
