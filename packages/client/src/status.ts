/**
 * The answer of `GET /status`: the node's own facts, its peers and its mesh counters. The
 * node builds its answer with these types, so they are the contract, not a copy of it.
 */

/** A version: the HLC value it was stamped with and the node that stamped it. */
export interface VersionInfo {
  readonly hlc: number;
  readonly nodeId: string;
}

/** What one anti-entropy round with one peer did. */
export interface SyncReport {
  /** Buckets whose digests differed. */
  readonly buckets: number;
  readonly pulled: number;
  readonly pushed: number;
  /** Bytes of answers received and of requests sent, bodies only. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ms: number;
}

/** A round, with the peer and when it ended (ms since the epoch). */
export interface SyncRound extends SyncReport {
  readonly peer: string;
  readonly at: number;
}

export type PeerState = 'alive' | 'suspect' | 'down';

export interface PeerStatus {
  readonly url: string;
  /** Null until the peer answered once (heard of through gossip only). */
  readonly nodeId: string | null;
  readonly incarnation: number;
  readonly state: PeerState;
  readonly ready: boolean;
  /** ms since the last exchange; null before the first. */
  readonly lastContactMs: number | null;
  /** Records waiting to be sent to it. */
  readonly outbox: number;
  /** True while its replication requests fail and are retried. */
  readonly retrying: boolean;
  /** Alive (it answers pings), yet its replication requests fail: a one-way partition, say. */
  readonly degraded: boolean;
  /** What it can keep (it refuses longer records); null when it did not say. */
  readonly limits: { readonly maxKeyLength: number; readonly maxValueLength: number; readonly storage: string } | null;
  /** What it told last of its figures in its pings; null when it did not (an older node). */
  readonly load: NodeLoad | null;
}

/**
 * A node's figures, as it tells them to its peers: what it holds now, and totals since it
 * started (rates come from two of them).
 */
export interface NodeLoad {
  readonly records: number;
  /** Records waiting in its outboxes, all peers together. */
  readonly outbox: number;
  /** Requests served, by category. */
  readonly reads: number;
  readonly writes: number;
  /** Replication batches received, and the sum of their lags in seconds. */
  readonly lagCount: number;
  readonly lagSum: number;
}

/** Counters of the mesh since the node started. */
export interface MeshStats {
  readonly recordsSent: number;
  readonly recordsApplied: number;
  readonly recordsStale: number;
  /** Refused: their clock was too far ahead (MAX_CLOCK_DRIFT_MS). */
  readonly recordsDrift: number;
  /** Refused: tombstones older than TOMBSTONE_TTL_MS. */
  readonly recordsExpired: number;
  /** Refused: longer key or value than this node's MAX_KEY_LENGTH / MAX_VALUE_LENGTH (its peers' limits differ). */
  readonly recordsOverLimits: number;
  readonly outboxOverflows: number;
  readonly syncRounds: number;
  readonly syncFailures: number;
  /** Replication requests sent to peers (each batch, each retry), and those that failed. */
  readonly replicationRequests: number;
  readonly replicationFailures: number;
  /** Totals of every anti-entropy round: records pulled and pushed, bytes of bodies in and out. */
  readonly syncPulled: number;
  readonly syncPushed: number;
  readonly syncBytesIn: number;
  readonly syncBytesOut: number;
  readonly lastSync: SyncRound | undefined;
  /** The round that made this node ready (its bootstrap), if it had to catch up. */
  readonly bootstrap: SyncRound | undefined;
}

/** This node's clock against its peers', measured from the pings. */
export interface ClockStatus {
  /** This node's clock minus the median member's, ms. */
  readonly offsetMs: number;
  /** True when |offsetMs| is over thresholdMs: the node takes no writes (503 CLOCK_SKEW). */
  readonly skewed: boolean;
  /** Half of MAX_CLOCK_DRIFT_MS (at least 100 ms). */
  readonly thresholdMs: number;
  /** Each peer's clock minus this node's, and the round trip that measured it. */
  readonly peers: readonly { readonly url: string; readonly offsetMs: number; readonly rttMs: number }[];
}

/** What opening the storage found at start. */
export interface StorageOpen {
  readonly records: number;
  readonly tombstones: number;
  readonly ms: number;
  /** STORAGE=lmdb: digests read from the summary of a clean stop, or rebuilt from every record. */
  readonly digests: 'saved' | 'rebuilt';
  readonly dataDir?: string;
  readonly durability?: string;
  /** Records rewritten from a file of the previous storage format when it was opened. */
  readonly migratedRecords?: number;
}

export interface NodeStatus {
  readonly version: string;
  readonly hostname: string;
  readonly port: number;
  readonly maxKeyLength: number;
  readonly maxValueLength: number;
  /** Keys holding a value now (an expired key not counted, swept or not). */
  readonly availableRecords: number;
  readonly tombstones: number;
  /** Records that carry an expiry, and values expired since the node started (each turned into a tombstone). */
  readonly expiry: { readonly expiring: number; readonly expired: number; readonly maxTtlMs: number };
  readonly nodeId: string;
  readonly incarnation: number;
  readonly advertiseUrl: string;
  readonly storage: 'memory' | 'lmdb';
  readonly storageOpen: StorageOpen;
  /**
   * Why the storage cannot be written now (null when it can): `full`, no space left on
   * the disk; `failed`, another write error. Writes are answered 507 meanwhile; reads go on.
   */
  readonly storageFault: { readonly kind: 'full' | 'failed'; readonly message: string; readonly since: number } | null;
  /** False while bootstrapping from peers, while the storage cannot be written, or shutting down. */
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  readonly connections: number;
  readonly uptimeMs: number;
  readonly memory: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number };
  readonly clearWatermark: VersionInfo | null;
  readonly peers: readonly PeerStatus[];
  readonly clock: ClockStatus;
  readonly tombstonePurge: TombstonePurgeStatus;
  /**
   * Whether this node has joined a mesh: a node with seeds has not until one answers (it
   * is not ready and answers writes 503 NOT_JOINED meanwhile); `problem` says why each
   * seed did not answer its last ping (unreachable, refused: another MESH_SECRET, not a
   * MeshKV node), null once it did.
   */
  readonly join: { readonly joined: boolean; readonly seeds: readonly { readonly url: string; readonly problem: string | null }[] };
  readonly mesh: MeshStats;
}

/**
 * Whom deletes wait for: a tombstone is kept past TOMBSTONE_TTL_MS until every node listed
 * has completed an anti-entropy round with this one after the delete.
 */
export interface TombstonePurgeStatus {
  /** Tombstones older than this (ms since the epoch) may go once past the TTL; null: none may yet. */
  readonly heldUntil: number | null;
  readonly waitingFor: readonly { readonly nodeId: string; readonly url: string; readonly syncedAt: number | null }[];
}

/** A node as the nkvd form of `/ping` lists it. */
export interface NkvdNode {
  readonly host: string;
  readonly port: number;
  readonly isDown: boolean;
  readonly nodeId: string | undefined;
  readonly state: string;
  readonly url: string;
}

/** The answer of `GET /`: what the node is, and its public routes. */
export interface NodeIndex {
  readonly service: 'meshkv';
  readonly version: string;
  readonly nodeId: string;
  /** Where the API is described, in the MeshKV source. */
  readonly docs: string;
  readonly routes: readonly { readonly path: string; readonly methods: string }[];
}

/** The balancer as the cluster page shows it (UI_BALANCER_URL). */
export interface BalancerPicture {
  readonly url: string;
  /** Why its /stats could not be read this time; absent when it was. */
  readonly error?: string;
  readonly backends: readonly { readonly name: string; readonly address: string; readonly state: string; readonly active: number; readonly total: number }[];
  readonly connections?: { readonly active: number; readonly accepted: number };
}

/** The cluster at one moment, as `/ui/events` sends it (`picture` events; docs/ui.md). */
export interface ClusterPicture {
  /** ms since the epoch, by the serving node's clock. */
  readonly at: number;
  readonly self: {
    readonly url: string;
    readonly nodeId: string;
    readonly version: string;
    readonly ready: boolean;
    readonly tombstones: number;
    readonly clockOffsetMs: number;
    readonly load: NodeLoad;
  };
  /** Every peer as the serving node sees it, with the figures it told in its last ping. */
  readonly peers: readonly {
    readonly url: string;
    readonly nodeId: string | null;
    readonly state: PeerState;
    readonly ready: boolean;
    readonly lastContactMs: number | null;
    /** Records waiting in the serving node's outbox to this peer. */
    readonly outbox: number;
    readonly load: NodeLoad | null;
  }[];
  readonly balancer: BalancerPicture | null;
}

/** One change as `/ui/events` sends it (`changes` events): never a value, never a record of the node's own. */
export interface ShownChange {
  /** ms since the epoch, by the serving node's clock. */
  readonly at: number;
  readonly op: 'set' | 'rm' | 'gone' | 'clear';
  /** The key as stored (a tenant's with its prefix); absent for a clear. */
  readonly key?: string;
  readonly origin: 'local' | 'replicated' | 'repaired' | 'expired' | 'cleared' | 'wiped';
}
