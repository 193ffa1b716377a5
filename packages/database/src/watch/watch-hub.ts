import type { ServerResponse } from 'node:http';
import type { Scheduler, Timer } from '../clock/scheduler';
import { ApiError } from '../errors';
import { sendError, sendJson } from '../http/reply';
import type { Principal } from '../http/router';
import { type ChangeLog, type LogFilter, logFilter } from './change-log';
import type { EventBatch, Sink } from './sinks';

export interface WatchSettings {
  /** WATCH_MAX_CONNECTIONS: watches (streams and long polls) and subscriptions open at once. */
  readonly maxConnections: number;
  /** WATCH_HEARTBEAT_MS: ms between two heartbeats of an open stream. */
  readonly heartbeatMs: number;
  /** WATCH_QUEUE_EVENTS: events of the node a stream whose connection is full may fall behind before it is cut. */
  readonly queueEvents: number;
  /** SEND_TIMEOUT_MS: ms a stream that ends is given to send its last bytes. */
  readonly graceMs: number;
  /** Pause after a long flush (see wake); off for tests that count turns of the event loop. Default on. */
  readonly pauseAfterFlush?: boolean;
  /** False once the key a stream was opened with is revoked (checked at each heartbeat); default: always valid. */
  readonly keyValid?: (principal: Principal) => boolean;
}

/** What a watch sees: one key, or the keys that start with a prefix; `strip` characters of each (its tenant's prefix) are not shown. */
export interface WatchScope {
  readonly key?: string;
  readonly prefix: string;
  readonly strip: number;
}

/** Bytes a stream may have waiting on its connection before it waits for it to drain. */
export const HIGH_WATER = 64 * 1024;
/** The longest pause between two flushes (ms), however long the last took. */
const MAX_PAUSE_MS = 50;
/** Seconds a watch refused for WATCH_MAX_CONNECTIONS is told to wait. */
const RETRY_AFTER_S = '1';

const REVOKED = new ApiError('UNAUTHORIZED', 'The API key this stream was opened with was revoked: open it again with a valid key.');

/** An error a stream is ended with, as its last event: what a request would be answered. */
function errorEvent(error: ApiError): string {
  return JSON.stringify({ type: 'error', status: error.status, ...error.toJSON() });
}

/** The event that tells a stream its id cannot be continued from: the 410 it would get as a long poll. */
function expiredEvent(): string {
  return errorEvent(ApiError.of('CURSOR_EXPIRED'));
}

/** One open stream: its scope, its sink, and the last event of the log it looked at. */
class Watcher {
  readonly filter: LogFilter;
  /** Waiting for its connection to drain. */
  waiting = false;
  /** How far behind the newest event it may fall while waiting (see WatchHub.check). */
  allowance: number;
  constructor(
    readonly scope: WatchScope,
    readonly sink: Sink,
    public cursor: number,
    queueEvents: number,
    lag: number,
  ) {
    this.filter = logFilter(scope);
    this.allowance = lag + queueEvents;
  }
}

/** One long poll waiting for events. */
interface Poll {
  readonly scope: WatchScope;
  readonly filter: LogFilter;
  readonly res: ServerResponse;
  readonly limit: number;
  cursor: number;
  timer: Timer | undefined;
}

/** Events collected for one watch, and the log position it reached. */
interface Batch extends EventBatch {
  readonly texts: string[];
  readonly ids: string[];
  cursor: number;
}

/**
 * Every watch open on this node, fed from the ChangeLog. A new event wakes the hub once
 * per turn of the event loop (writes of one moment go out together), and each watcher
 * then reads the log from its own cursor: a stream has no queue of its own beyond its
 * connection's buffer (HIGH_WATER), so a thousand watchers cost one log and a thousand
 * cursors. A stream whose connection stays full while the node moves more than
 * WATCH_QUEUE_EVENTS events on is cut with an `overflow` event, and continues from its
 * last id when it reconnects (the log still has it, unless the buffer is shorter).
 *
 * The hub also counts connections for topics (`reserve`/`release`): one limit for every
 * stream a node keeps open.
 */
export class WatchHub {
  /** Since start: streams cut for falling behind, events sent (to every stream together), watches refused past the limit. */
  readonly stats = { overflows: 0, eventsSent: 0, refused: 0 };
  private readonly watchers = new Set<Watcher>();
  private readonly polls = new Set<Poll>();
  private open = 0;
  private scheduled = false;
  private heartbeat: Timer | undefined;
  private closed = false;
  /** Every open stream (watches and subscriptions), with the key it was opened with. */
  private readonly beats = new Map<Sink, Principal | undefined>();
  /** How long the last flush took (ms). */
  private flushMs = 0;

  constructor(
    private readonly log: ChangeLog,
    private readonly scheduler: Scheduler,
    private readonly settings: WatchSettings,
  ) {
    log.onAppend(() => this.wake());
    log.onBreak(() => this.expireAll());
  }

  /** Streams and long polls open now (subscriptions included). */
  get connections(): number {
    return this.open;
  }

  /** True once the node stops: it takes no new watch. */
  get closing(): boolean {
    return this.closed;
  }

  /** Takes one connection slot; false when WATCH_MAX_CONNECTIONS are open (or the node is stopping). */
  reserve(): boolean {
    if (this.closed || this.open >= this.settings.maxConnections) {
      this.stats.refused++;
      return false;
    }
    this.open++;
    return true;
  }

  release(): void {
    this.open--;
  }

  /** The refusal of a watch or subscription past the limit. */
  static busy(): ApiError {
    return new ApiError('TOO_MANY_WATCHERS', undefined, undefined, undefined, ['Retry-After', RETRY_AFTER_S]);
  }

  /**
   * Keeps `sink` alive with heartbeats until it closes (a stream of a watch or a
   * subscription); at each, a stream whose key was revoked since it opened is ended (401).
   */
  keepAlive(sink: Sink, principal: Principal | undefined): void {
    this.beats.set(sink, principal);
    this.heartbeat ??= this.scheduler.every(this.settings.heartbeatMs, () => {
      const valid = this.settings.keyValid;
      for (const [beat, owner] of this.beats) {
        if (owner !== undefined && valid !== undefined && !valid(owner)) beat.end(errorEvent(REVOKED), 'error');
        else beat.heartbeat();
      }
    });
    sink.onClose(() => {
      this.beats.delete(sink);
      if (this.beats.size === 0) {
        this.heartbeat?.cancel();
        this.heartbeat = undefined;
      }
    });
  }

  /**
   * Opens a stream on a reserved slot, from after `cursor` (taken from a log that keeps
   * events: ChangeLog.activate); the slot is released when it closes.
   */
  stream(scope: WatchScope, sink: Sink, cursor: number, principal?: Principal): void {
    const watcher = new Watcher(scope, sink, cursor, this.settings.queueEvents, this.log.last - cursor);
    this.watchers.add(watcher);
    this.keepAlive(sink, principal);
    sink.onDrain(() => {
      watcher.waiting = false;
      this.pump(watcher);
    });
    sink.onClose(() => {
      this.watchers.delete(watcher);
      this.release();
    });
    sink.start(this.log.idOf(cursor));
    this.pump(watcher);
  }

  /**
   * A long poll on a reserved slot: answers at once with the events after `cursor` if there
   * are any, else at the first that comes, else with none after `waitMs`; always with the
   * id to continue from (`next`).
   */
  poll(scope: WatchScope, res: ServerResponse, cursor: number, waitMs: number, limit: number): void {
    const poll: Poll = { scope, filter: logFilter(scope), res, limit, cursor, timer: undefined };
    // Its slot is free once its answer is out, or the client gave up.
    res.once('close', () => {
      poll.timer?.cancel();
      this.polls.delete(poll);
      this.release();
    });
    if (this.answerPoll(poll, waitMs === 0)) return;
    this.polls.add(poll);
    poll.timer = this.scheduler.after(waitMs, () => this.answerPoll(poll, true));
  }

  /** A stream that asked to continue after an expired id, on a reserved slot: told so (410 CURSOR_EXPIRED, as its first event), then closed. */
  expire(sink: Sink): void {
    sink.onClose(() => this.release());
    sink.end(expiredEvent(), 'expired');
  }

  /** Ends every watch (the node is stopping): clients reconnect, to another node behind a balancer. */
  close(): void {
    this.closed = true;
    for (const watcher of this.watchers) watcher.sink.end(undefined, 'shutdown');
    for (const poll of this.polls) this.answerPoll(poll, true);
    for (const sink of this.beats.keys()) sink.end(undefined, 'shutdown');
  }

  private wake(): void {
    if (this.scheduled || (this.watchers.size === 0 && this.polls.size === 0)) return;
    this.scheduled = true;
    // A flush that took long (many watchers) is followed by as long a pause: under load,
    // sending events takes at most about half of the node's time, and each send carries
    // more events; an idle node sends at the next turn of the event loop.
    if (this.flushMs < 1 || this.settings.pauseAfterFlush === false) setImmediate(this.flushNow);
    else setTimeout(this.flushNow, Math.min(this.flushMs, MAX_PAUSE_MS));
  }

  private readonly flushNow = (): void => {
    const started = performance.now();
    this.flush();
    this.flushMs = performance.now() - started;
  };

  private flush(): void {
    this.scheduled = false;
    // Watchers at the same place with the same scope and an empty connection get the same
    // batch, collected and encoded once: the common case of many watchers keeping up.
    const shared = new Map<string, Batch>();
    for (const watcher of this.watchers) {
      if (watcher.waiting) this.check(watcher);
      else this.pump(watcher, shared);
    }
    for (const poll of this.polls) this.answerPoll(poll, false);
  }

  /** Sends what the watcher has not seen, until its connection is full. */
  private pump(watcher: Watcher, shared?: Map<string, Batch>): void {
    const sink = watcher.sink;
    if (!sink.open) return;
    if (watcher.cursor < this.log.first - 1) {
      this.overflow(watcher);
      return;
    }
    const { scope } = watcher;
    const key = shared === undefined || sink.buffered > 0 ? undefined : `${watcher.cursor}\u0000${scope.strip}\u0000${scope.key === undefined ? 'p' : 'k'}${scope.key ?? scope.prefix}`;
    let batch = key === undefined ? undefined : shared?.get(key);
    if (batch === undefined) {
      batch = this.collect(scope, watcher.filter, watcher.cursor, Infinity, HIGH_WATER - sink.buffered);
      if (key !== undefined) shared?.set(key, batch);
    }
    watcher.cursor = batch.cursor;
    if (batch.texts.length > 0) {
      sink.send(batch);
      this.stats.eventsSent += batch.texts.length;
    }
    // Full: the sink's drain pumps again. Not full but more to read: the next turn does.
    watcher.waiting = sink.buffered >= HIGH_WATER;
    if (!watcher.waiting && watcher.cursor < this.log.last) this.wake();
    watcher.allowance = Math.min(watcher.allowance, this.log.last - watcher.cursor + this.settings.queueEvents);
  }

  /** A watcher waiting for its connection: cut once it fell further behind than it may. */
  private check(watcher: Watcher): void {
    if (this.log.last - watcher.cursor > watcher.allowance || watcher.cursor < this.log.first - 1) this.overflow(watcher);
  }

  private overflow(watcher: Watcher): void {
    this.stats.overflows++;
    const behind = this.log.last - watcher.cursor;
    watcher.sink.end(
      JSON.stringify({
        type: 'overflow',
        behind,
        message: `This watch fell ${behind} events behind the node while its connection was full (WATCH_QUEUE_EVENTS ${this.settings.queueEvents}): reconnect with the id of the last event received (Last-Event-ID or after=) to continue from it.`,
      }),
      'overflow',
    );
  }

  /** Answers a poll if it has events (or `always`): true when answered. */
  private answerPoll(poll: Poll, always: boolean): boolean {
    if (poll.res.writableEnded) return true;
    if (poll.cursor < this.log.first - 1) {
      this.polls.delete(poll);
      sendError(poll.res, ApiError.of('CURSOR_EXPIRED'));
      return true;
    }
    const batch = this.collect(poll.scope, poll.filter, poll.cursor, poll.limit, Infinity);
    poll.cursor = batch.cursor;
    if (batch.texts.length === 0 && !always) return false;
    this.polls.delete(poll);
    this.stats.eventsSent += batch.texts.length;
    sendJson(poll.res, 200, `{"events":[${batch.texts.join(',')}],"next":"${this.log.idOf(batch.cursor)}"}`, ['Cache-Control', 'no-store']);
    return true;
  }

  /** The events after `cursor` that `scope` sees, at most `max` of them and about `bytes`. */
  private collect(scope: WatchScope, filter: LogFilter, cursor: number, max: number, bytes: number): Batch {
    const log = this.log;
    const batch: Batch = { texts: [], ids: [], cursor };
    const last = log.last;
    let size = 0;
    while (batch.cursor < last && batch.texts.length < max && size < bytes) {
      const seq = ++batch.cursor;
      if (!log.sees(seq, filter)) continue;
      const text = log.text(seq, scope.strip);
      batch.texts.push(text);
      batch.ids.push(log.idOf(seq));
      size += text.length;
    }
    return batch;
  }

  /** The node's history broke (a wipe): every open watch is told to read again. */
  private expireAll(): void {
    for (const watcher of this.watchers) watcher.sink.end(expiredEvent(), 'expired');
    for (const poll of this.polls) sendError(poll.res, ApiError.of('CURSOR_EXPIRED'));
    this.polls.clear();
  }
}
