import { Pool } from 'undici';

/** One client operation and the answer it got (status 0: no answer). */
export interface Operation {
  readonly kind: 'set' | 'rm';
  readonly key: string;
  readonly url: string;
  readonly status: number;
  readonly error?: string;
}

/** What a scenario cost, checked after the network healed. */
export interface Outcome {
  readonly scenario: string;
  readonly operations: number;
  readonly acknowledged: number;
  /** Status -> count, e.g. `200:950 503:40 0:3`. */
  readonly answers: string;
  /** Acknowledged writes missing on some node at the end (no acknowledged delete after them). */
  readonly lost: number;
  /** Acknowledged deletes whose key is back on some node. */
  readonly resurrected: number;
  /** Keys on which the nodes disagreed when the fault ended (what the fault split); null if not measured. */
  readonly splitAtHeal: number | null;
  /** Keys on which the nodes still disagree at the end. */
  readonly divergent: number;
  /** ms from the heal until every node held the same records; null if they never did before the deadline. */
  readonly convergeMs: number | null;
  readonly note: string;
}

export interface RunOptions {
  readonly durationMs: number;
  /** Never more than this many operations, whatever the duration. */
  readonly maxOperations?: number;
  readonly concurrency?: number;
  /** Share of operations that delete a key written (and acknowledged) before. */
  readonly deleteShare?: number;
  readonly valueLength?: number;
  /** `w` of every write (default: the node's, 1). */
  readonly w?: string;
  readonly requestTimeoutMs?: number;
  /** Operations started per second, spread over the run (default 400). */
  readonly ratePerSecond?: number;
}

interface Written {
  readonly value: string;
  readonly url: string;
  acknowledged: boolean;
  /** undefined: never deleted; true: a delete was acknowledged; false: tried, not acknowledged. */
  deleted?: boolean;
}

/**
 * A client workload that records every operation and its answer, then checks what the
 * mesh kept: every key is written once (so its last acknowledged operation is its truth),
 * some are deleted later at the node that wrote them; an operation without a 200 is
 * "maybe" and checked for nothing.
 */
export class Workload {
  readonly operations: Operation[] = [];
  private readonly written = new Map<string, Written>();
  /** Acknowledged writes no delete was tried on yet, oldest first. */
  private readonly deletable: string[] = [];
  private readonly pools = new Map<string, Pool>();
  private sequence = 0;
  private turn = 0;
  private stopped = false;

  constructor(readonly scenario: string) {}

  /** Runs operations against `urls()` (asked before each, so a test may change them) for `durationMs`. */
  async run(urls: () => readonly string[], options: RunOptions): Promise<void> {
    this.stopped = false;
    const started = Date.now();
    const deadline = started + options.durationMs;
    const limit = options.maxOperations ?? 5000;
    const interval = 1000 / (options.ratePerSecond ?? 400);
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (!this.stopped && Date.now() < deadline && issued < limit) {
        const due = started + issued++ * interval;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        await this.one(urls(), options);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  }

  /** Ends a run at its workers' next operation. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Waits until every node holds the same records (or `deadlineMs` passes), then checks
   * the acknowledged operations against what each node holds.
   */
  async check(urls: readonly string[], deadlineMs: number, note = '', splitAtHeal: number | null = null): Promise<Outcome> {
    const started = Date.now();
    let contents = await Promise.all(urls.map((url) => this.contents(url)));
    let convergeMs: number | null = null;
    for (;;) {
      if (disagreeing(contents).length === 0) {
        convergeMs = Date.now() - started;
        break;
      }
      if (Date.now() - started > deadlineMs) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      contents = await Promise.all(urls.map((url) => this.contents(url)));
    }
    let lost = 0;
    let resurrected = 0;
    for (const [key, write] of this.written) {
      if (!write.acknowledged) continue;
      if (write.deleted === undefined && contents.some((held) => held.get(key) !== write.value)) lost++;
      if (write.deleted === true && contents.some((held) => held.has(key))) resurrected++;
    }
    const answers = new Map<number, number>();
    for (const { status } of this.operations) answers.set(status, (answers.get(status) ?? 0) + 1);
    await this.close();
    return {
      scenario: this.scenario,
      operations: this.operations.length,
      acknowledged: this.operations.filter((operation) => operation.status === 200).length,
      answers: [...answers].sort(([a], [b]) => a - b).map(([status, count]) => `${status}:${count}`).join(' '),
      lost,
      resurrected,
      splitAtHeal,
      divergent: disagreeing(contents).length,
      convergeMs,
      note,
    };
  }

  /** Keys on which the nodes at `urls` disagree now. */
  async disagreement(urls: readonly string[]): Promise<number> {
    return disagreeing(await Promise.all(urls.map((url) => this.contents(url)))).length;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    this.pools.clear();
  }

  private async one(urls: readonly string[], options: RunOptions): Promise<void> {
    const concern = options.w === undefined ? '' : `&w=${options.w}`;
    const key = Math.random() < (options.deleteShare ?? 0.25) ? this.deletable.shift() : undefined;
    const known = key === undefined ? undefined : this.written.get(key);
    if (key !== undefined && known !== undefined) {
      const write = known;
      write.deleted = false;
      const status = await this.send('rm', key, write.url, `/rm?k=${encodeURIComponent(key)}${concern}`, options);
      if (status === 200) write.deleted = true;
      return;
    }
    const url = urls[this.turn++ % urls.length] as string;
    const fresh = `${this.scenario}-${this.sequence++}`;
    const value = `v${this.sequence}-`.padEnd(options.valueLength ?? 16, 'x');
    const write: Written = { value, url, acknowledged: false };
    this.written.set(fresh, write);
    write.acknowledged = (await this.send('set', fresh, url, `/set?k=${encodeURIComponent(fresh)}&v=${encodeURIComponent(value)}${concern}`, options)) === 200;
    if (write.acknowledged) this.deletable.push(fresh);
  }

  private async send(kind: Operation['kind'], key: string, url: string, path: string, options: RunOptions): Promise<number> {
    const timeout = options.requestTimeoutMs ?? 5000;
    try {
      const res = await this.pool(url).request({ path, method: 'GET', headersTimeout: timeout, bodyTimeout: timeout });
      await res.body.text();
      this.operations.push({ kind, key, url, status: res.statusCode });
      return res.statusCode;
    } catch (error) {
      this.operations.push({ kind, key, url, status: 0, error: (error as Error).message });
      return 0;
    }
  }

  private pool(url: string): Pool {
    let pool = this.pools.get(url);
    if (pool === undefined) {
      pool = new Pool(url, { connections: 8 });
      this.pools.set(url, pool);
    }
    return pool;
  }

  /** A node's records of this scenario (`/getAll`). */
  private async contents(url: string): Promise<Map<string, string>> {
    const res = await fetch(`${url}/getAll`, { signal: AbortSignal.timeout(10_000) });
    const pairs = (await res.json()) as { k: string; v: string }[];
    return new Map(pairs.filter(({ k }) => k.startsWith(`${this.scenario}-`)).map(({ k, v }) => [k, v]));
  }
}

/** Keys on which the maps do not all agree. */
function disagreeing(contents: readonly Map<string, string>[]): string[] {
  const keys = new Set(contents.flatMap((held) => [...held.keys()]));
  return [...keys].filter((key) => contents.some((held) => held.get(key) !== contents[0]?.get(key)));
}

/** The outcomes as a text table, one scenario a row. */
export function outcomeTable(outcomes: readonly Outcome[]): string {
  const header = ['scenario', 'ops', 'acked', 'lost', 'resurrected', 'split', 'divergent', 'converge', 'answers', 'note'];
  const rows = outcomes.map((o) => [
    o.scenario,
    String(o.operations),
    String(o.acknowledged),
    String(o.lost),
    String(o.resurrected),
    o.splitAtHeal === null ? '-' : String(o.splitAtHeal),
    String(o.divergent),
    o.convergeMs === null ? 'never' : `${(o.convergeMs / 1000).toFixed(1)} s`,
    o.answers,
    o.note,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
