import type { Backend } from '../discovery/discovery';

export type Health = 'unknown' | 'healthy' | 'unhealthy';

/** A backend with what the balancer knows and counts about it. */
export interface PoolEntry {
  readonly backend: Backend;
  health: Health;
  /** Skipped until then (ms since the epoch), after a refused or timed-out connect. */
  downUntil: number;
  active: number;
  total: number;
  connectFailures: number;
  /** Health checks that failed (each one, not only the changes of state). */
  healthFailures: number;
  bytesIn: number;
  bytesOut: number;
  lastError: string | undefined;
}

/**
 * The current backends, in round-robin order. A backend is usable unless its health
 * check failed or it refused a connection less than DOWN_FOR_MS ago. New backends are
 * usable at once: a connect that fails just moves on to the next.
 */
export class BackendPool {
  private entries: PoolEntry[] = [];
  private cursor = 0;

  constructor(
    private readonly downForMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  list(): readonly PoolEntry[] {
    return this.entries;
  }

  get(id: string): PoolEntry | undefined {
    return this.entries.find((entry) => entry.backend.id === id);
  }

  /** Replaces the backend list; survivors (same id and address) keep their state and counters. */
  update(backends: readonly Backend[]): { added: Backend[]; removed: Backend[] } {
    const previous = new Map(this.entries.map((entry) => [entry.backend.id, entry]));
    const added: Backend[] = [];
    this.entries = backends.map((backend) => {
      const known = previous.get(backend.id);
      previous.delete(backend.id);
      if (known !== undefined && known.backend.host === backend.host && known.backend.port === backend.port) return known;
      added.push(backend);
      return {
        backend,
        health: 'unknown',
        downUntil: 0,
        active: 0,
        total: 0,
        connectFailures: 0,
        healthFailures: 0,
        bytesIn: 0,
        bytesOut: 0,
        lastError: undefined,
      };
    });
    return { added, removed: [...previous.values()].map((entry) => entry.backend) };
  }

  usable(entry: PoolEntry): boolean {
    return entry.health !== 'unhealthy' && entry.downUntil <= this.now();
  }

  /**
   * The next usable backend after the last one handed out, not in `exclude`. When none is
   * usable, a backend only marked down after a failed connection (its health check still
   * passes) is better than closing the client: it is tried too.
   */
  next(exclude: ReadonlySet<string> = new Set()): PoolEntry | undefined {
    return this.find(exclude, (entry) => this.usable(entry)) ?? this.find(exclude, (entry) => entry.health !== 'unhealthy');
  }

  private find(exclude: ReadonlySet<string>, accept: (entry: PoolEntry) => boolean): PoolEntry | undefined {
    const count = this.entries.length;
    for (let i = 0; i < count; i++) {
      const entry = this.entries[(this.cursor + i) % count] as PoolEntry;
      if (exclude.has(entry.backend.id) || !accept(entry)) continue;
      this.cursor = (this.cursor + i + 1) % count;
      return entry;
    }
    return undefined;
  }

  /** After a refused or timed-out connect: skip this backend for DOWN_FOR_MS. */
  markDown(entry: PoolEntry, reason: string): void {
    entry.downUntil = this.now() + this.downForMs;
    entry.connectFailures++;
    entry.lastError = reason;
  }

  /** Result of an active health check. True when the health changed. */
  setHealth(id: string, healthy: boolean, reason?: string): boolean {
    const entry = this.get(id);
    if (entry === undefined) return false;
    const health: Health = healthy ? 'healthy' : 'unhealthy';
    if (!healthy) entry.healthFailures++;
    if (entry.health === health) return false;
    entry.health = health;
    if (healthy) entry.downUntil = 0;
    else entry.lastError = reason;
    return true;
  }
}
