import type { Logger } from '@meshkv/common';
import type { Scheduler } from '../clock/scheduler';
import type { MeshConfig } from '../config';
import { hlcFromMs } from '../clock/hlc';
import type { Store } from '../store/store';
import type { ClockWatch } from './clock-watch';
import type { Membership, NodeInfo, NodeLoad } from './membership';
import { type MeshTransport, PeerRequestError } from './transport';
import { ApiError } from '../errors';
import { type PingBody, readPing } from './wire';
import type { SeedSource } from './seed-resolver';

/** Pings through a seed that answered from this node itself, per round. */
const SELF_ANSWER_RETRIES = 3;
/** Rounds with no other node in sight before a node with seeds calls itself complete. */
const LONELY_ROUNDS = 3;
/** Rounds between two errors of a node that cannot join. */
const JOIN_LOG_ROUNDS = 30;

export interface PingerDeps {
  readonly config: MeshConfig;
  readonly membership: Membership;
  readonly transport: MeshTransport;
  readonly store: Store;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
  readonly self: () => NodeInfo;
  /** This node's figures, sent with every ping and answer (not part of `self`: that is asked for often, to compare urls and ids). */
  readonly load?: () => NodeLoad;
  readonly clock: ClockWatch;
  readonly isReady: () => boolean;
  /** The seeds to ping (MESH_NETWORK_URL, its DNS names looked up); default: the seed URLs of the config. */
  readonly seeds?: SeedSource;
  /**
   * No other node in sight for LONELY_ROUNDS rounds, and this node has no seed, or a seed
   * answered (a balancer that sent the ping back here), or START_ALONE: it starts a mesh of its own.
   */
  readonly onAlone: () => void;
  /** JOIN_TIMEOUT_MS passed and no seed ever answered: why, for the node to exit. */
  readonly onJoinTimeout: (why: string) => void;
  /** This node dropped its data to bootstrap again (see rejoinCheck). */
  readonly onWiped: () => void;
  /** A node started earlier has this node's id (at `url`): this one must leave (see twinCheck). */
  readonly onTwin: (url: string) => void;
  /** A peer holds this node at `incarnation`, at least this one's: count from higher up. */
  readonly onOutdated: (incarnation: number) => void;
}

/**
 * Drives membership: every PING_INTERVAL_MS it ages the peer table and pings every peer
 * and seed (down peers less often), merging the lists that come back; it answers the
 * pings of others the same way. It also keeps the time of the last contact with any node,
 * for the tombstone-TTL rule.
 */
export class Pinger {
  private readonly inFlight = new Set<string>();
  /** Pings in a row that failed, per URL: the first (of a peer that answered before) and every 60th are logged as warnings. */
  private readonly failures = new Map<string, number>();
  /** Seeds that turned out to be nodes themselves (see ping). */
  private readonly nodeSeeds = new Set<string>();
  /** Addresses a DNS name gave that turned out to be this node's own (its URL names it otherwise). */
  private readonly selfSeeds = new Set<string>();
  private lonelyRounds = 0;
  /** A seed answered once (or another node reached this one): this node has joined. */
  private joinedMesh = false;
  /** Why each seed did not answer its last ping (unreachable, refused, not MeshKV). */
  private readonly seedProblems = new Map<string, string>();
  private readonly startedAt: number;
  /** Last exchange with any other node (ms), kept apart from the peer table, which forgets. */
  private lastContactAt = 0;
  private stopped = false;

  private readonly seedSource: SeedSource;

  constructor(private readonly deps: PingerDeps) {
    this.startedAt = deps.scheduler.now();
    const urls = deps.config.seeds;
    this.seedSource = deps.seeds ?? { configured: urls.length > 0, current: () => urls, refresh: () => Promise.resolve() };
    this.joinedMesh = !this.seedSource.configured;
  }

  /** False while this node has seeds and none of them ever answered (it takes no writes then). */
  get joined(): boolean {
    return this.joinedMesh;
  }

  /** What /status says of joining: whether it did, and why each seed did not answer its last ping. */
  joinStatus(): { readonly joined: boolean; readonly seeds: readonly { readonly url: string; readonly problem: string | null }[] } {
    const lookups = [...(this.seedSource.problemsNow?.() ?? [])].map(([url, problem]) => ({ url, problem: `cannot look the name up: ${problem}` }));
    return { joined: this.joinedMesh, seeds: [...this.seeds().map((url) => ({ url, problem: this.seedProblems.get(url) ?? null })), ...lookups] };
  }

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

  /**
   * A peer pinged us: note whoever it knows, and answer with what we know. What it says
   * of itself is believed only if it matches what we hold; otherwise its URL is pinged
   * at once, and that answer decides (Membership.claim).
   */
  answer(body: PingBody): PingBody {
    const { membership } = this.deps;
    this.rejoinCheck(body);
    this.learn(body);
    // Only its own answer may tell that it shares this node's id (see twinCheck).
    if (this.isTwin(body.node) && !this.stopped) void this.ping(body.node.url);
    const outcome = this.stopped ? 'ignored' : membership.claim(body.node);
    if (outcome === 'taken') this.contact();
    else if (outcome === 'verify') void this.ping(body.node.url, body.node.leaving === true);
    membership.hear(body.peers);
    return this.body(body.node.url);
  }

  /** A URL forgotten by the membership: its failure count goes too. */
  forget(url: string): void {
    this.failures.delete(url);
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Tells every member this node leaves (a ping saying so); each checks it by pinging back,
   * and finds it leaving or gone. Waits at most PING_TIMEOUT_MS.
   */
  async leave(): Promise<void> {
    const { membership, transport, config } = this.deps;
    await Promise.allSettled(membership.members().map((peer) => transport.post(peer.url, '/ping', this.body(peer.url), config.pingTimeoutMs)));
  }

  /** One round: age the peer table, then ping every peer and seed not already in flight. */
  async round(): Promise<void> {
    if (this.stopped) return;
    const { membership, config, scheduler } = this.deps;
    membership.evaluate();
    const now = scheduler.now();
    const targets = new Set<string>();
    for (const peer of membership.list()) {
      if (peer.state === 'down' && now - peer.lastProbe < config.downPingIntervalMs) continue;
      targets.add(peer.url);
    }
    for (const seed of this.seeds()) targets.add(seed);
    // A DNS seed that names this node: like a seed that answered from this node, it is part
    // of the mesh the name stands for — the first one, if the name names nobody else yet.
    if (!this.joinedMesh && this.seedSource.current().includes(this.deps.self().url)) this.joinedMesh = true;
    // Looked up for the next round: a round never waits for DNS.
    void this.seedSource.refresh();
    await Promise.all([...targets].map((url) => this.ping(url)));
    if (!this.deps.isReady()) {
      const known = membership.list().some((peer) => peer.nodeId !== undefined);
      this.lonelyRounds = known ? 0 : this.lonelyRounds + 1;
      if (this.lonelyRounds < LONELY_ROUNDS) return;
      if (this.joinedMesh || config.startAlone) this.deps.onAlone();
      else this.cannotJoin();
    }
  }

  /**
   * No seed ever answered: say why, loudly (first at LONELY_ROUNDS, then every
   * JOIN_LOG_ROUNDS), and give up after JOIN_TIMEOUT_MS if it is set.
   */
  private cannotJoin(): void {
    const { config, logger, scheduler } = this.deps;
    const why = this.seeds()
      .map((url) => `${url}: ${this.seedProblems.get(url) ?? 'no answer yet'}`)
      .join('; ');
    if (config.joinTimeoutMs > 0 && scheduler.now() - this.startedAt >= config.joinTimeoutMs) {
      this.deps.onJoinTimeout(`no seed answered within JOIN_TIMEOUT_MS (${config.joinTimeoutMs} ms): ${why}`);
      return;
    }
    if ((this.lonelyRounds - LONELY_ROUNDS) % JOIN_LOG_ROUNDS !== 0) return;
    logger.error(
      { seeds: this.joinStatus().seeds },
      `cannot join the mesh, no seed answered (${why}); still trying. Not ready, writes get 503 NOT_JOINED until one answers (START_ALONE=true starts a mesh of its own instead)`,
    );
  }

  /** The seeds other than this node itself. */
  private seeds(): string[] {
    const me = this.deps.self().url;
    return this.seedSource.current().filter((seed) => seed !== me && !this.selfSeeds.has(seed));
  }

  private isSeed(url: string): boolean {
    return this.seedSource.current().includes(url);
  }

  private contact(): void {
    this.lastContactAt = this.deps.scheduler.now();
    this.joinedMesh = true;
  }

  /**
   * Pings `url` and takes its answer. `leaving`: the node said it leaves; if it no longer
   * answers at all, it has: removed too.
   */
  private async ping(url: string, leaving = false): Promise<void> {
    if (this.inFlight.has(url) || this.stopped) return;
    this.inFlight.add(url);
    const { membership, config, transport, scheduler, logger } = this.deps;
    const peer = membership.get(url);
    if (peer !== undefined) peer.lastProbe = scheduler.now();
    // A seed that is not itself a peer is most likely a load balancer in front of the
    // nodes (MESH_NETWORK_URL=http://load-balancer:8080): it picks a node per connection,
    // so a kept-alive connection would reach the same node forever, maybe this one. A new
    // connection per ping reaches the next node each round.
    // An answer from this very node (the balancer sent it back here) is asked again at
    // once, on another new connection: nodes that ping in step, as nodes started together
    // do, would otherwise each meet themselves every round, for ever.
    // An address a DNS name gave is a node's, not a balancer's: no fresh connection for it.
    const fresh = peer === undefined && this.isSeed(url) && !this.nodeSeeds.has(url) && this.seedSource.named?.(url) !== true;
    try {
      let body: PingBody;
      let sentAt: number;
      for (let attempt = 1; ; attempt++) {
        sentAt = scheduler.now();
        const answer = await transport.post<unknown>(url, '/ping', this.body(url), config.pingTimeoutMs, fresh);
        body = readPing(answer);
        // A seed that answers in its own name is a node, not a balancer: pooled from now on.
        if (body.node.url === url) this.nodeSeeds.add(url);
        if (!fresh || body.node.nodeId !== this.deps.self().nodeId || attempt >= SELF_ANSWER_RETRIES || this.stopped) break;
      }
      if (body.time !== undefined && body.node.nodeId !== this.deps.self().nodeId) this.deps.clock.measure(body.node.url, sentAt, scheduler.now(), body.time);
      if (this.isSeed(url)) {
        // This node's own address under the name: part of the mesh the name stands for, and never pinged again.
        if (body.node.nodeId === this.deps.self().nodeId && this.seedSource.named?.(url) === true) this.selfSeeds.add(url);
        this.seedProblems.delete(url);
        this.joinedMesh = true;
      }
      this.heard(body);
      this.failures.delete(url);
    } catch (error) {
      if (this.isSeed(url)) this.seedProblems.set(url, seedProblem(error));
      if (leaving) membership.leave(url);
      const failures = (this.failures.get(url) ?? 0) + 1;
      this.failures.set(url, failures);
      // A peer that answered before: its first failure is news. One that never answered (a
      // node still starting, a seed: see cannotJoin) is only worth a line if it goes on.
      // A ping cut by this node's own stop (its connections closed under it) is not news either.
      const answeredBefore = peer?.nodeId !== undefined;
      const level = !this.stopped && ((failures === 1 && answeredBefore) || failures % 60 === 0) ? 'warn' : 'debug';
      logger[level]({ url, failures, err: String(error) }, 'ping failed');
    } finally {
      this.inFlight.delete(url);
    }
  }

  /** What this node sends in a ping to `url`, or answers to it: itself, its gossip, its time, and what it holds of `url`. */
  private body(url: string): PingBody {
    const { membership, scheduler } = this.deps;
    const seen = membership.seen(url);
    const self = this.deps.self();
    const node = this.deps.load === undefined ? self : { ...self, load: this.deps.load() };
    const body = { node, peers: membership.gossip(), time: scheduler.now() };
    return seen === undefined ? body : { ...body, seen: { url, ...seen } };
  }

  /** The answer to our own ping: the node's own word. The tombstone-TTL rule, the contact, the gossip. */
  private heard(body: PingBody): void {
    if (this.twinCheck(body.node)) return;
    this.rejoinCheck(body);
    this.learn(body);
    if (this.deps.membership.contact(body.node) !== undefined) this.contact();
    this.deps.membership.hear(body.peers);
  }

  /**
   * Two live nodes with one node id (a NODE_ID given twice) would each take the other's
   * acknowledgements for its own. The answer of a node with this node's id at another URL
   * (never an incoming ping's word: anyone could claim it) decides: the one started later
   * (higher incarnation; on a tie, the greater URL) is the duplicate and leaves.
   */
  private twinCheck(other: NodeInfo): boolean {
    if (!this.isTwin(other) || other.leaving === true) return false;
    const me = this.deps.self();
    const later = me.incarnation > other.incarnation || (me.incarnation === other.incarnation && me.url > other.url);
    if (later && !this.stopped) this.deps.onTwin(other.url);
    return true;
  }

  /** A node with this node's id at another URL. */
  private isTwin(other: NodeInfo): boolean {
    const me = this.deps.self();
    return other.nodeId === me.nodeId && other.url !== me.url;
  }

  /**
   * A peer holds the node at this node's URL at an incarnation not below ours: this node
   * restarted with its clock set back (or took over the URL of a node with a faster clock).
   */
  private learn(body: PingBody): void {
    const seen = body.seen;
    const me = this.deps.self();
    if (seen === undefined || this.stopped || seen.url !== me.url || seen.incarnation < me.incarnation || seen.incarnation >= Number.MAX_SAFE_INTEGER) return;
    if (seen.nodeId === me.nodeId && seen.incarnation === me.incarnation) return;
    this.deps.logger.warn({ peer: body.node.url, held: seen.incarnation, incarnation: me.incarnation }, 'a peer knows this node at a higher incarnation (restarted with the clock set back?): counting from above it');
    this.deps.onOutdated(seen.incarnation);
  }

  /**
   * A node that heard from no peer for longer than TOMBSTONE_TTL_MS may hold keys whose
   * deletes the others have forgotten (they wait for a member however long it is away,
   * but not for a node that left): it would bring them back. When it reaches a living
   * mesh again (the peer has other peers: a mesh that restarts as a whole has forgotten
   * nothing), it drops the values it held from before that last contact (the others had
   * them, and may have deleted them since) and keeps what is newer, which it wrote while
   * away and now hands over, and its tombstones (see Store.dropBefore); then it
   * bootstraps. Checked on the first exchange either way (our ping's answer, or a peer's
   * ping), before that peer can start a sync with the stale data.
   */
  private rejoinCheck(other: PingBody): void {
    const { config, store, logger } = this.deps;
    const now = this.deps.scheduler.now();
    const silentSince = this.lastContactAt;
    const me = this.deps.self();
    if (other.node.nodeId === me.nodeId || silentSince === 0 || now - silentSince <= config.tombstoneTtlMs || store.size === 0) return;
    if (!other.peers.some((peer) => peer.url !== me.url && peer.url !== other.node.url)) return;
    const dropped = store.dropBefore(hlcFromMs(silentSince));
    logger.warn({ awayMs: now - silentSince, ttlMs: config.tombstoneTtlMs, dropped, kept: store.size, keptFrom: new Date(silentSince).toISOString() }, 'away longer than the tombstone TTL: dropped what the others may have deleted since, kept what is newer; bootstrapping');
    // Once: what arrives from here on is the bootstrap, not stale data.
    this.lastContactAt = now;
    this.deps.onWiped();
  }
}

/** OpenSSL's codes for a certificate that does not verify (and Node's for a TLS handshake refused). */
const TLS_ERROR = /\b(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE|ERR_SSL_\w+|ERR_TLS_\w+)\b/;

/** Why a seed's ping failed, in a user's words. */
export function seedProblem(error: unknown): string {
  if (error instanceof PeerRequestError && error.status === 401 && error.message.includes('STALE_SIGNATURE')) return 'refused: its clock and this node\'s differ by more than 120 s (401 STALE_SIGNATURE; check NTP on both)';
  if (error instanceof PeerRequestError && error.status === 401 && error.message.includes('a certificate from the mesh CA')) return 'refused: it takes mesh requests only from nodes with a certificate from its mesh CA (401; set MESH_TLS_* to a certificate from the same MESH_TLS_CA_FILE)';
  if (error instanceof PeerRequestError && error.status === 401) return 'refused: it does not take this node\'s MESH_SECRET (401; the secret differs, or it has one and this node none)';
  const tls = error instanceof Error ? TLS_ERROR.exec(error.message) : null;
  if (tls !== null) return `refused: its certificate is not from this node's mesh CA, or this node's is not from its (${tls[0]}; every node needs a certificate from the same MESH_TLS_CA_FILE)`;
  if (error instanceof PeerRequestError && error.answered) return `not a MeshKV node: ${error.message.replace(/^\S+: /, '')}`.slice(0, 300);
  if (error instanceof ApiError) return 'not a MeshKV node: its answer is not a MeshKV ping';
  return `unreachable: ${(error instanceof Error ? error.message : String(error)).replace(/^\S+: /, '')}`.slice(0, 300);
}
