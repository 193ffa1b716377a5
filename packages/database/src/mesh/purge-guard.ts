/** A node whose copy of a delete this node waits for before forgetting the delete. */
interface Holder {
  url: string;
  /** Start (ms, this node's clock) of the last anti-entropy round completed with it; 0: none yet. */
  syncedAt: number;
}

/** What /status shows of a holder. */
export interface HolderStatus {
  readonly nodeId: string;
  readonly url: string;
  /** ms since the epoch; null before the first completed round. */
  readonly syncedAt: number | null;
}

/** Holders remembered at once: a mesh of more nodes than this is not one this node can serve. */
const MAX_HOLDERS = 1024;

/**
 * When a tombstone may be purged. A delete must outlive every copy of the record it
 * deleted, or that copy comes back. So a tombstone is kept past TOMBSTONE_TTL_MS until
 * every node this one has met, and that has not left the mesh, has completed an
 * anti-entropy round with this node that started after the delete: a round moves every
 * record either side holds, the tombstone included. A node that is down, cut off or
 * forgotten for the ping table is still waited for, however long it is away; only a
 * node that left (a clean stop), or whose URL now answers with another node id (its
 * data went with it), is not. Kept beside the records (durable storage), so a restart
 * does not forget whom it waits for.
 *
 * NB: a round counts from its start, so a tombstone that reaches this node only after a
 * round with X started (from a third node) is taken as delivered to X; the third node
 * still holds it until X has it, so X gets it from there.
 */
export class PurgeGuard {
  private readonly holders = new Map<string, Holder>();

  /** A node answered: it may hold records, so deletes wait for it from now on. */
  met(nodeId: string, url: string): void {
    for (const [id, holder] of this.holders) {
      if (holder.url === url && id !== nodeId) this.holders.delete(id);
    }
    const known = this.holders.get(nodeId);
    if (known !== undefined) {
      known.url = url;
      return;
    }
    if (this.holders.size >= MAX_HOLDERS) return;
    this.holders.set(nodeId, { url, syncedAt: 0 });
  }

  /** A round with the node completed; it started at `startedAt` (ms). */
  synced(nodeId: string, url: string, startedAt: number): void {
    this.met(nodeId, url);
    const holder = this.holders.get(nodeId);
    if (holder !== undefined && startedAt > holder.syncedAt) holder.syncedAt = startedAt;
  }

  /** The node left the mesh: it is not waited for any more. */
  left(nodeId: string): void {
    this.holders.delete(nodeId);
  }

  /** Tombstones older than this (ms) are held by every node waited for; Infinity when none is. */
  get horizonMs(): number {
    let horizon = Infinity;
    for (const holder of this.holders.values()) horizon = Math.min(horizon, holder.syncedAt);
    return horizon;
  }

  /** The nodes waited for, the least recently synced first. */
  status(): HolderStatus[] {
    return [...this.holders]
      .map(([nodeId, { url, syncedAt }]) => ({ nodeId, url, syncedAt: syncedAt === 0 ? null : syncedAt }))
      .sort((a, b) => (a.syncedAt ?? 0) - (b.syncedAt ?? 0));
  }

  /** For the node's meta data. */
  encode(): string {
    return JSON.stringify([...this.holders].map(([nodeId, { url, syncedAt }]) => [nodeId, url, syncedAt]));
  }

  /** What `encode` saved; anything unreadable is skipped (the guard then waits for fewer nodes, as a new node does). */
  restore(text: string | undefined): void {
    if (text === undefined) return;
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(saved)) return;
    for (const entry of saved as unknown[]) {
      if (!Array.isArray(entry)) continue;
      const [nodeId, url, syncedAt] = entry as unknown[];
      if (typeof nodeId === 'string' && typeof url === 'string' && typeof syncedAt === 'number' && Number.isFinite(syncedAt)) {
        this.synced(nodeId, url, syncedAt);
      }
    }
  }
}
