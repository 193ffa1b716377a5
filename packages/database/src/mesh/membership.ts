import type { NodeLoad } from '@meshkv/client';
import { EventEmitter } from 'node:events';

/** How a node introduces itself in a ping. */
export interface NodeInfo {
  readonly nodeId: string;
  readonly url: string;
  readonly incarnation: number;
  /** False while the node is still bootstrapping its data from peers. */
  readonly ready: boolean;
  /** True once the node is stopping: it leaves the mesh (peers remove it at once). */
  readonly leaving?: boolean;
  /** What the node can keep; records beyond it it refuses (absent from older nodes). */
  readonly limits?: NodeLimits;
  /** What the node holds and serves, for the cluster page (absent from older nodes). */
  readonly load?: NodeLoad;
}

export interface NodeLimits {
  readonly maxKeyLength: number;
  readonly maxValueLength: number;
  readonly storage: string;
}

export type { NodeLoad };

export type PeerState = 'alive' | 'suspect' | 'down';

export interface Peer {
  readonly url: string;
  /** Undefined until the peer answered once (it was only heard of through gossip). */
  nodeId: string | undefined;
  incarnation: number;
  ready: boolean;
  state: PeerState;
  /** Last successful exchange with the peer, in either direction (ms since the epoch). */
  lastContact: number;
  /** Last ping sent to the peer. */
  lastProbe: number;
  limits?: NodeLimits;
  /** What it told last of its figures (see NodeLoad). */
  load?: NodeLoad;
}

export interface MembershipTimers {
  readonly suspectAfterMs: number;
  readonly downAfterMs: number;
  readonly forgetAfterMs: number;
}

/**
 * - `join`: first contact with a peer.
 * - `recover`: a suspect or down peer answered again.
 * - `restart`: a peer came back with a higher incarnation (a new process, maybe empty).
 * - `down`: a peer has not answered for DOWN_AFTER_MS.
 * - `forget`: a peer has not answered for FORGET_AFTER_MS and was removed.
 * - `leave`: a peer said it is stopping, and was removed.
 */
export interface MembershipEvents {
  join: [peer: Peer];
  recover: [peer: Peer];
  restart: [peer: Peer];
  down: [peer: Peer];
  forget: [peer: Peer];
  leave: [peer: Peer];
}

/** What an incoming ping's claim about its sender needs before it is believed (see `claim`). */
export type ClaimOutcome = 'taken' | 'verify' | 'ignored';

/**
 * A node that left (or was forgotten), kept for a while so that gossip from nodes that
 * have not noticed yet does not bring it back; the node itself comes back by answering.
 */
interface Departed {
  readonly nodeId: string;
  readonly incarnation: number;
  readonly at: number;
}

/** Departed nodes remembered at once (the oldest goes first). */
const MAX_DEPARTED = 1024;

/**
 * The peer table of one node, keyed by advertised URL. It only records what pings tell
 * it; the mesh sends the pings and asks `evaluate` to age the entries.
 *
 * A peer is heard of directly (it answered a ping, or pinged us: `contact`) or second
 * hand (another node listed it: `hear`). Only direct contact makes a peer alive. Gossip
 * lists only peers the sender itself has heard from recently, so a dead node is not
 * passed around forever.
 *
 * Members are the peers that answered at least once and have not left or been forgotten,
 * whatever their state: `w=all` waits for every one of them, so a down member makes it
 * wait. Only a node's own word changes who it is: the answer to a ping sent to it
 * (`contact`). What an incoming ping claims about its sender is believed only when it
 * matches what is known (`claim`); anything new is checked by pinging that URL, so a
 * third party cannot replace, restart or remove another node.
 */
export class Membership extends EventEmitter<MembershipEvents> {
  private readonly peers = new Map<string, Peer>();
  private readonly departed = new Map<string, Departed>();
  /** Unknown peers added in the current second (see hear). */
  private learning = { since: 0, count: 0 };

  constructor(
    private readonly self: () => NodeInfo,
    private readonly timers: MembershipTimers,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  get(url: string): Peer | undefined {
    return this.peers.get(url);
  }

  list(): Peer[] {
    return [...this.peers.values()];
  }

  /** The peers without copying them (for the write path); do not change the table meanwhile. */
  each(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** Peers that answered recently. */
  alive(): Peer[] {
    return this.list().filter((peer) => peer.state === 'alive');
  }

  /** The other members of the mesh: every peer that answered once and has not left or been forgotten. */
  members(): Peer[] {
    return this.list().filter((peer) => peer.nodeId !== undefined);
  }

  /**
   * The incarnation this node holds for the node at `url` (a member, or one that left),
   * with its id: sent to whatever node answers at that URL, so a node restarted with its
   * clock set back learns that it must count from higher up.
   */
  seen(url: string): { nodeId: string; incarnation: number } | undefined {
    const peer = this.peers.get(url);
    const known = peer?.nodeId !== undefined ? peer : this.departed.get(url);
    return known?.nodeId === undefined ? undefined : { nodeId: known.nodeId, incarnation: known.incarnation };
  }

  /**
   * An incoming ping's word about its sender. Believed (`taken`, as contact) only when it
   * is the member already known by that URL, id and incarnation; a new node, a new life,
   * a node that left or one saying it leaves must be checked by pinging its URL (`verify`);
   * an older life of a known member is `ignored` (the answer's `seen` tells it).
   */
  claim(info: NodeInfo): ClaimOutcome {
    const me = this.self();
    if (info.nodeId === me.nodeId || info.url === me.url) return 'ignored';
    const known = this.peers.get(info.url);
    if (known !== undefined && known.nodeId === info.nodeId && known.incarnation === info.incarnation && info.leaving !== true) {
      this.contact(info);
      return 'taken';
    }
    if (known?.nodeId !== undefined && known.incarnation > info.incarnation) return 'ignored';
    return 'verify';
  }

  /**
   * Direct contact: `info` is the answer to our own ping (or a claim that matched). A
   * node that says it is leaving is removed at once.
   */
  contact(info: NodeInfo): Peer | undefined {
    const me = this.self();
    if (info.nodeId === me.nodeId || info.url === me.url) return undefined;
    if (info.leaving === true) {
      this.leave(info.url);
      return undefined;
    }
    this.departed.delete(info.url);
    const now = this.now();
    // The same node id at another URL: the node moved; its old entry is stale.
    for (const other of this.peers.values()) {
      if (other.url !== info.url && other.nodeId === info.nodeId && other.incarnation <= info.incarnation) {
        this.peers.delete(other.url);
        this.emit('forget', other);
      }
    }
    const known = this.peers.get(info.url);
    if (known === undefined || known.nodeId === undefined) {
      const peer: Peer = {
        url: info.url,
        nodeId: info.nodeId,
        incarnation: info.incarnation,
        ready: info.ready,
        state: 'alive',
        lastContact: now,
        lastProbe: known?.lastProbe ?? 0,
        ...(info.limits === undefined ? {} : { limits: info.limits }),
        ...(info.load === undefined ? {} : { load: info.load }),
      };
      this.peers.set(info.url, peer);
      this.emit('join', peer);
      return peer;
    }
    // A lower incarnation: a late answer from a previous life, or a node restarted with its
    // clock set back, which learns from `seen` to count higher. Per URL, incarnations grow.
    if (info.incarnation < known.incarnation) return known;
    if (info.load !== undefined) known.load = info.load;
    if (info.incarnation > known.incarnation || info.nodeId !== known.nodeId) {
      known.nodeId = info.nodeId;
      known.incarnation = info.incarnation;
      if (info.limits !== undefined) known.limits = info.limits;
      known.ready = info.ready;
      known.state = 'alive';
      known.lastContact = now;
      this.emit('restart', known);
      return known;
    }
    known.ready = info.ready;
    known.lastContact = now;
    if (known.state !== 'alive') {
      known.state = 'alive';
      this.emit('recover', known);
    }
    return known;
  }

  /**
   * Second-hand news: peers another node lists. Unknown URLs are added, to be pinged, up
   * to MAX_UNKNOWN_PEERS held at once and MAX_LEARNED_PER_SECOND a second: a buggy or
   * hostile list cannot make this node contact thousands of addresses, at once or over
   * time. The rest are heard again from the next gossip, once the ones held have answered
   * (or been forgotten, after DOWN_AFTER_MS of silence).
   */
  hear(list: readonly { readonly url: string }[]): void {
    const me = this.self();
    const now = this.now();
    let unknown = 0;
    for (const peer of this.peers.values()) if (peer.nodeId === undefined) unknown++;
    if (now - this.learning.since >= 1000) this.learning = { since: now, count: 0 };
    for (const { url } of list) {
      if (url === me.url || this.peers.has(url) || this.departed.has(url)) continue;
      if (unknown >= MAX_UNKNOWN_PEERS || this.learning.count >= MAX_LEARNED_PER_SECOND) return;
      unknown++;
      this.learning.count++;
      this.peers.set(url, {
        url,
        nodeId: undefined,
        incarnation: 0,
        ready: false,
        state: 'suspect',
        lastContact: now,
        lastProbe: 0,
      });
    }
  }

  /** The member at `url` leaves the mesh (it said so): removed at once, and remembered as departed. */
  leave(url: string): void {
    const peer = this.peers.get(url);
    if (peer === undefined) return;
    this.remove(peer);
    this.emit('leave', peer);
  }

  /** Ages every entry: alive -> suspect -> down -> forgotten, by time since last contact. */
  evaluate(): void {
    const now = this.now();
    for (const [url, departed] of this.departed) {
      if (now - departed.at < this.timers.forgetAfterMs) break;
      this.departed.delete(url);
    }
    for (const peer of [...this.peers.values()]) {
      const silent = now - peer.lastContact;
      if (silent >= this.timers.forgetAfterMs || (peer.nodeId === undefined && silent >= this.timers.downAfterMs)) {
        this.remove(peer);
        this.emit('forget', peer);
      } else if (silent >= this.timers.downAfterMs) {
        if (peer.state !== 'down') {
          peer.state = 'down';
          this.emit('down', peer);
        }
      } else if (silent >= this.timers.suspectAfterMs && peer.state === 'alive') {
        peer.state = 'suspect';
      }
    }
  }

  /** Takes a peer out of the table; a member is remembered as departed (gossip cannot bring it back). */
  private remove(peer: Peer): void {
    this.peers.delete(peer.url);
    if (peer.nodeId === undefined) return;
    this.departed.delete(peer.url);
    this.departed.set(peer.url, { nodeId: peer.nodeId, incarnation: peer.incarnation, at: this.now() });
    if (this.departed.size > MAX_DEPARTED) this.departed.delete(this.departed.keys().next().value as string);
  }

  /** What this node tells others: itself is sent apart; here, the peers heard from lately. */
  gossip(): { url: string; nodeId: string; incarnation: number; state: PeerState }[] {
    const list = [];
    for (const peer of this.peers.values()) {
      if (peer.nodeId !== undefined && peer.state !== 'down') {
        list.push({ url: peer.url, nodeId: peer.nodeId, incarnation: peer.incarnation, state: peer.state });
      }
    }
    return list;
  }
}

/** Peers heard of but never answered, held at once (bounds the addresses a node contacts). */
export const MAX_UNKNOWN_PEERS = 64;

/** Peers heard of (not yet answered) added per second, at most. */
export const MAX_LEARNED_PER_SECOND = 32;
