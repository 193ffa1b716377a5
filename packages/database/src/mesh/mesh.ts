import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PeerStatus } from '@meshkv/client';
import type { MeshConfig } from '../config';
import type { Logger } from '@meshkv/common';
import { fromWire, type ReplicateBody, replicateBody, type WireRecord } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import type { ApplyOutcome, Store } from '../store/store';
import { AntiEntropy, type SyncReport } from './anti-entropy';
import { MeshClient } from './client';
import { Membership, type NodeInfo, type Peer } from './membership';
import { Outbox } from './outbox';
import { type PingBody, readPing } from './wire';
import { AckCounter, type WriteConcern } from './write-concern';

export interface MeshIdentity {
  readonly nodeId: string;
  readonly incarnation: number;
  /** The advertised URL; known once the node listens (a port of 0 is resolved then). */
  readonly url: () => string;
}

/** Counters shown in /status. */
export interface MeshStats {
  recordsSent: number;
  recordsApplied: number;
  recordsStale: number;
  /** Refused: their clock was too far ahead (MAX_CLOCK_DRIFT_MS). */
  recordsDrift: number;
  /** Refused: tombstones older than TOMBSTONE_TTL_MS. */
  recordsExpired: number;
  outboxOverflows: number;
  syncRounds: number;
  syncFailures: number;
  lastSync: (SyncReport & { peer: string; at: number }) | undefined;
  /** The round that made this node ready (its bootstrap), if it had to catch up. */
  bootstrap: (SyncReport & { peer: string; at: number }) | undefined;
}

/** How many nodes answered the `/ping` of the nkvd form. */
export interface NkvdNode {
  host: string;
  port: number;
  isDown: boolean;
  nodeId: string | undefined;
  state: string;
  url: string;
}

const PING_CONNECTIONS = 4;
/** Pings through a seed that answered from this node itself, per round. */
const SELF_ANSWER_RETRIES = 3;

/** Rounds with no other node in sight before a node with seeds calls itself complete. */
const LONELY_ROUNDS = 3;

/**
 * Everything that makes one node part of a mesh: membership by ping, one outbox per
 * peer for replication, write concern, anti-entropy. It owns its
 * timers; `start` and `stop` bracket them.
 */
export class Mesh {
  readonly membership: Membership;
  readonly stats: MeshStats = {
    recordsSent: 0,
    recordsApplied: 0,
    recordsStale: 0,
    recordsDrift: 0,
    recordsExpired: 0,
    outboxOverflows: 0,
    syncRounds: 0,
    syncFailures: 0,
    lastSync: undefined,
    bootstrap: undefined,
  };
  private readonly client: MeshClient;
  private readonly antiEntropy: AntiEntropy;
  private readonly outboxes = new Map<string, Outbox>();
  private readonly pinging = new Set<string>();
  /** Pings in a row that failed, per URL: the first and every 60th are logged as warnings. */
  private readonly pingFailures = new Map<string, number>();
  private readonly syncQueue = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private syncing = false;
  private ready: boolean;
  private lonelyRounds = 0;
  /** Last exchange with any other node (ms), kept apart from the peer table, which forgets. */
  private lastContactAt = 0;
  /** Seeds that turned out to be nodes themselves (see ping). */
  private readonly nodeSeeds = new Set<string>();
  private syncCursor = 0;
  private stopped = false;

  constructor(
    private readonly config: MeshConfig,
    private readonly store: Store,
    private readonly identity: MeshIdentity,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.client = new MeshClient({
      secret: config.secret,
      connections: PING_CONNECTIONS,
      connectTimeoutMs: Math.min(config.pingTimeoutMs, config.requestTimeoutMs),
    });
    this.membership = new Membership(() => this.self(), config, now);
    this.antiEntropy = new AntiEntropy(this.client, store, config.requestTimeoutMs, config.batchSize);
    // A node with no seed is the first of its mesh: it has nobody to catch up with.
    this.ready = config.seeds.length === 0;
    this.membership.on('join', (peer) => this.onJoin(peer));
    this.membership.on('recover', (peer) => this.onRecover(peer));
    this.membership.on('restart', (peer) => this.onRestart(peer));
    this.membership.on('down', (peer) => this.onDown(peer));
    this.membership.on('forget', (peer) => this.onForget(peer));
  }

  get isReady(): boolean {
    return this.ready;
  }

  self(): NodeInfo {
    return {
      nodeId: this.identity.nodeId,
      url: this.identity.url(),
      incarnation: this.identity.incarnation,
      ready: this.ready,
    };
  }

  start(): void {
    if (this.config.secret === undefined) {
      this.logger.warn('MESH_SECRET is not set: any client that reaches this node can use its mesh routes');
    }
    const every = (ms: number, task: () => void): void => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.pingIntervalMs, () => void this.pingRound());
    every(this.config.aeIntervalMs, () => this.periodicSync());
    void this.pingRound();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const outbox of this.outboxes.values()) outbox.close();
    await this.client.close();
  }

  // ---- write path -------------------------------------------------------------------

  /**
   * Sends a local write to every peer that is not down. Undefined when the client can
   * be answered at once (w=1); otherwise a promise that settles when `w` nodes hold the
   * write, or rejects with 504 WRITE_TIMEOUT.
   */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    for (const outbox of this.liveOutboxes()) outbox.enqueue(key, record, counter);
    return counter?.promise;
  }

  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    for (const outbox of this.liveOutboxes()) outbox.enqueueClear(watermark, counter);
    return counter?.promise;
  }

  private counter(concern: WriteConcern): AckCounter | undefined {
    const required = concern.w === 'all' ? 1 + this.membership.alive().length : concern.w;
    return required <= 1 ? undefined : new AckCounter(required, concern.timeoutMs);
  }

  private *liveOutboxes(): Generator<Outbox> {
    for (const peer of this.membership.each()) {
      if (peer.nodeId === undefined || peer.state === 'down') continue;
      yield this.outboxFor(peer);
    }
  }

  private outboxFor(peer: Peer): Outbox {
    let outbox = this.outboxes.get(peer.url);
    if (outbox === undefined) {
      const url = peer.url;
      outbox = new Outbox((batch) => this.sendBatch(url, batch), {
        batchSize: this.config.batchSize,
        batchDelayMs: this.config.batchDelayMs,
        retryMaxMs: this.config.retryMaxMs,
        max: this.config.outboxMax,
        onOverflow: () => {
          this.stats.outboxOverflows++;
          this.logger.warn({ peer: url, max: this.config.outboxMax }, 'outbox full: dropped, the peer gets a full sync');
          this.requestSync(url);
        },
        onError: (error, failures) => {
          if (failures === 1 || failures % 20 === 0) this.logger.warn({ peer: url, failures, err: String(error) }, 'replication failed; retrying');
        },
      });
      this.outboxes.set(url, outbox);
    }
    return outbox;
  }

  private async sendBatch(url: string, batch: { records: WireRecord[]; clear: Version | undefined }): Promise<void> {
    await this.client.post(url, '/_mesh/replicate', replicateBody(batch.records, batch.clear ?? null), this.config.requestTimeoutMs);
    this.stats.recordsSent += batch.records.length;
  }

  // ---- receiving --------------------------------------------------------------------

  /** Merges a batch from a peer. Never forwarded: the writer sends to every peer itself. */
  receive(body: ReplicateBody): { applied: number; stale: number; refused: number } {
    let applied = 0;
    let stale = 0;
    let refused = 0;
    const count = (outcome: ApplyOutcome): void => {
      this.countApplied(outcome);
      if (outcome === 'applied') applied++;
      else if (outcome === 'stale') stale++;
      else refused++;
    };
    if (body.clear !== null) count(this.store.applyClear(body.clear, 'replicated'));
    for (const wire of body.records) count(this.store.apply(wire[0], fromWire(wire), 'replicated'));
    if (refused > 0) this.logger.warn({ refused }, 'records refused (clock too far ahead, or expired tombstones)');
    return { applied, stale, refused };
  }

  /** A peer pinged us: note it and whoever it knows, and answer with what we know. */
  onPing(body: PingBody): { node: NodeInfo; peers: ReturnType<Membership['gossip']> } {
    this.rejoinCheck(body);
    if (this.membership.contact(body.node) !== undefined) this.lastContactAt = this.now();
    this.membership.hear(body.peers);
    return { node: this.self(), peers: this.membership.gossip() };
  }

  /** The nkvd form: `GET /ping?nodes=host:port|…` names nodes to learn; answers every known node. */
  onNkvdPing(hosts: readonly string[]): { nodes: NkvdNode[] } {
    this.membership.hear(hosts.map((host) => ({ url: `http://${host}` })));
    const me = this.self();
    const nodes = [{ url: me.url, nodeId: me.nodeId as string | undefined, state: 'alive' }, ...this.membership.list()].map(
      (node) => {
        const parsed = new URL(node.url);
        return {
          host: parsed.hostname,
          port: Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
          isDown: node.state === 'down',
          nodeId: node.nodeId,
          state: node.state,
          url: node.url,
        };
      },
    );
    return { nodes };
  }

  // ---- membership -------------------------------------------------------------------
  /** When this node last heard from a peer (ms since the epoch; 0: never). */
  get lastContact(): number {
    return this.lastContactAt;
  }

  /**
   * Restores the time of the last contact a previous run of this node saved with its
   * data, so the tombstone-TTL rule (rejoinCheck) also covers the time it was stopped.
   */
  restoreLastContact(at: number): void {
    if (at > this.lastContactAt) this.lastContactAt = at;
  }


  /** One round: age the peer table, then ping every peer and seed not already in flight. */
  async pingRound(): Promise<void> {
    if (this.stopped) return;
    this.membership.evaluate();
    const now = this.now();
    const me = this.self();
    const targets = new Set<string>();
    for (const peer of this.membership.list()) {
      if (peer.state === 'down' && now - peer.lastProbe < this.config.downPingIntervalMs) continue;
      targets.add(peer.url);
    }
    for (const seed of this.config.seeds) if (seed !== me.url) targets.add(seed);
    await Promise.all([...targets].map((url) => this.ping(url)));
    if (!this.ready) {
      const known = this.membership.list().some((peer) => peer.nodeId !== undefined);
      this.lonelyRounds = known ? 0 : this.lonelyRounds + 1;
      if (this.lonelyRounds >= LONELY_ROUNDS) {
        this.ready = true;
        this.logger.info('no other node answered: this node starts a mesh of its own');
      }
    }
  }

  private async ping(url: string): Promise<void> {
    if (this.pinging.has(url) || this.stopped) return;
    this.pinging.add(url);
    const peer = this.membership.get(url);
    if (peer !== undefined) peer.lastProbe = this.now();
    // A seed that is not itself a peer is most likely a load balancer in front of the
    // nodes (MESH_NETWORK_URL=http://load-balancer:8080): it picks a node per connection,
    // so a kept-alive connection would reach the same node forever, maybe this one. A new
    // connection per ping reaches the next node each round.
    // An answer from this very node (the balancer sent it back here) is asked again at
    // once, on another new connection: nodes that ping in step, as nodes started together
    // do, would otherwise each meet themselves every round, for ever.
    const fresh = peer === undefined && this.config.seeds.includes(url) && !this.nodeSeeds.has(url);
    try {
      let body: PingBody;
      for (let attempt = 1; ; attempt++) {
        const answer = await this.client.post<{ node: unknown; peers: unknown }>(
          url,
          '/ping',
          { node: this.self(), peers: this.membership.gossip() },
          this.config.pingTimeoutMs,
          fresh,
        );
        body = readPing(answer);
        // A seed that answers in its own name is a node, not a balancer: pooled from now on.
        if (body.node.url === url) this.nodeSeeds.add(url);
        if (!fresh || body.node.nodeId !== this.identity.nodeId || attempt >= SELF_ANSWER_RETRIES || this.stopped) break;
      }
      this.rejoinCheck(body);
      if (this.membership.contact(body.node) !== undefined) this.lastContactAt = this.now();
      this.membership.hear(body.peers);
      this.pingFailures.delete(url);
    } catch (error) {
      const failures = (this.pingFailures.get(url) ?? 0) + 1;
      this.pingFailures.set(url, failures);
      const level = failures === 1 || failures % 60 === 0 ? 'warn' : 'debug';
      this.logger[level]({ url, failures, err: String(error) }, 'ping failed');
    } finally {
      this.pinging.delete(url);
    }
  }

  /**
   * A node that heard from no peer for longer than TOMBSTONE_TTL_MS may hold keys whose
   * deletes the others have already forgotten: it would bring them back. When it reaches
   * a living mesh again (the peer has other peers), it drops its data and bootstraps.
   * Checked on the first exchange either way (our ping's answer, or a peer's ping), before
   * that peer can start a sync with the stale data.
   */
  private rejoinCheck(other: PingBody): void {
    const now = this.now();
    const silentSince = this.lastContactAt;
    if (other.node.nodeId === this.identity.nodeId || silentSince === 0 || now - silentSince <= this.config.tombstoneTtlMs || this.store.size === 0) return;
    const me = this.self();
    if (!other.peers.some((peer) => peer.url !== me.url && peer.url !== other.node.url)) return;
    this.logger.warn({ awayMs: now - silentSince, ttlMs: this.config.tombstoneTtlMs }, 'away longer than the tombstone TTL: dropping local data to bootstrap');
    this.store.wipe();
    this.ready = false;
  }

  private onJoin(peer: Peer): void {
    this.logger.info({ peer: peer.url, nodeId: peer.nodeId, ready: peer.ready }, 'peer joined');
    if (!this.ready || peer.ready) this.requestSync(peer.url);
  }

  private onRecover(peer: Peer): void {
    this.logger.info({ peer: peer.url, nodeId: peer.nodeId }, 'peer is back');
    if (!this.ready || peer.ready) this.requestSync(peer.url);
  }

  private onRestart(peer: Peer): void {
    this.logger.info({ peer: peer.url, nodeId: peer.nodeId, incarnation: peer.incarnation }, 'peer restarted');
    // What waited for its previous life is either there already or comes with a sync.
    this.outboxes.get(peer.url)?.drop();
    if (!this.ready || peer.ready) this.requestSync(peer.url);
  }

  private onDown(peer: Peer): void {
    this.logger.warn({ peer: peer.url, nodeId: peer.nodeId }, 'peer is down');
    this.outboxes.get(peer.url)?.drop();
  }

  private onForget(peer: Peer): void {
    this.pingFailures.delete(peer.url);
    if (peer.nodeId !== undefined) this.logger.info({ peer: peer.url, nodeId: peer.nodeId }, 'peer forgotten');
    this.outboxes.get(peer.url)?.close();
    this.outboxes.delete(peer.url);
    this.client.forget(peer.url);
  }

  // ---- anti-entropy -----------------------------------------------------------------

  /** Every AE_INTERVAL_MS: one sync with the next alive peer, in turn. */
  private periodicSync(): void {
    const peers = this.membership.alive().filter((peer) => peer.ready || !this.ready);
    if (peers.length === 0) return;
    const peer = peers[this.syncCursor++ % peers.length] as Peer;
    this.requestSync(peer.url);
  }

  /** One anti-entropy round with the peer at `url`, now; resolves with what it did. */
  async syncNow(url: string): Promise<SyncReport> {
    const report = await this.antiEntropy.sync(url, (outcome) => this.countApplied(outcome));
    this.stats.syncRounds++;
    this.stats.lastSync = { ...report, peer: url, at: this.now() };
    return report;
  }

  requestSync(url: string): void {
    this.syncQueue.add(url);
    void this.runSyncs();
  }

  /** Syncs run one at a time, so a node never floods itself or a peer. */
  private async runSyncs(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      while (this.syncQueue.size > 0 && !this.stopped) {
        const url = this.syncQueue.values().next().value as string;
        this.syncQueue.delete(url);
        const peer = this.membership.get(url);
        if (peer === undefined || peer.nodeId === undefined || peer.state === 'down') continue;
        await this.syncWith(peer);
        await yieldToLoop();
      }
    } finally {
      this.syncing = false;
    }
  }

  private async syncWith(peer: Peer): Promise<void> {
    try {
      const report = await this.syncNow(peer.url);
      if (report.buckets > 0) this.logger.info({ peer: peer.url, ...report }, 'anti-entropy round');
      if (!this.ready) {
        this.ready = true;
        this.stats.bootstrap = this.stats.lastSync;
        this.logger.info({ peer: peer.url, ms: report.ms, records: this.store.liveCount }, 'bootstrap complete: ready');
      }
    } catch (error) {
      this.stats.syncFailures++;
      this.logger.warn({ peer: peer.url, err: String(error) }, 'anti-entropy round failed');
    }
  }

  private countApplied(outcome: ApplyOutcome): void {
    if (outcome === 'applied') this.stats.recordsApplied++;
    else if (outcome === 'stale') this.stats.recordsStale++;
    else if (outcome === 'drift') this.stats.recordsDrift++;
    else this.stats.recordsExpired++;
  }

  // ---- status -----------------------------------------------------------------------

  peerStatus(): PeerStatus[] {
    const now = this.now();
    return this.membership.list().map((peer) => ({
      url: peer.url,
      nodeId: peer.nodeId ?? null,
      incarnation: peer.incarnation,
      state: peer.state,
      ready: peer.ready,
      lastContactMs: peer.nodeId === undefined ? null : now - peer.lastContact,
      outbox: this.outboxes.get(peer.url)?.depth ?? 0,
      retrying: this.outboxes.get(peer.url)?.retrying ?? false,
    }));
  }
}
