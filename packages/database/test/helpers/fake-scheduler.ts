import type { Scheduler, Timer } from '../../src/clock/scheduler';

interface Entry {
  at: number;
  readonly seq: number;
  readonly task: () => void;
  readonly every: number | undefined;
  cancelled: boolean;
}

/** Lets every promise that can settle now settle (the in-memory network answers through promises). */
export async function settle(turns = 4): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock and timers that move only when told: `advance(ms)` runs every timer due within
 * `ms`, in time order (then in the order they were set), letting pending promises settle
 * after each. A test of many nodes runs in milliseconds and the same way every time.
 */
export class FakeScheduler implements Scheduler {
  private time: number;
  private seq = 0;
  private entries: Entry[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  after(ms: number, task: () => void): Timer {
    return this.add(ms, task, undefined);
  }

  every(ms: number, task: () => void): Timer {
    return this.add(ms, task, Math.max(1, ms));
  }

  /** Moves the clock `ms` forward, running the timers due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.time = next.at;
      if (next.every === undefined) next.cancelled = true;
      else next.at += next.every;
      next.task();
      await settle();
    }
    this.time = end;
    this.entries = this.entries.filter((entry) => !entry.cancelled);
  }

  /** Advances in steps of `stepMs` until `condition` holds; fails after `maxMs` of fake time. */
  async until(condition: () => boolean, maxMs: number, what: string, stepMs = 100): Promise<number> {
    const started = this.time;
    while (!condition()) {
      if (this.time - started >= maxMs) throw new Error(`not true after ${maxMs} ms of fake time: ${what}`);
      await this.advance(stepMs);
    }
    return this.time - started;
  }

  private add(ms: number, task: () => void, every: number | undefined): Timer {
    const entry: Entry = { at: this.time + Math.max(0, ms), seq: this.seq++, task, every, cancelled: false };
    this.entries.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  private nextDue(end: number): Entry | undefined {
    let next: Entry | undefined;
    for (const entry of this.entries) {
      if (entry.cancelled || entry.at > end) continue;
      if (next === undefined || entry.at < next.at || (entry.at === next.at && entry.seq < next.seq)) next = entry;
    }
    return next;
  }
}
