import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';

/**
 * Where a stream's events go: a server-sent event response, or a WebSocket. One event is
 * one JSON text; `id` is what a client continues after (SSE's `id:` line).
 *
 * Contract: `send` and `end` never throw and never block; what cannot be sent at once
 * waits in the connection's buffer (`buffered` bytes), which the caller keeps small.
 * `end` is idempotent: a final event (if any), then the connection closes — in full once
 * the client read it, or cut after `graceMs` if it does not.
 */
/**
 * Events for one stream, or for every stream at the same place of the log with the same
 * scope: `texts` (JSON) and their `ids`. A sink encodes it once for all (`frames`).
 */
export interface EventBatch {
  readonly texts: readonly string[];
  readonly ids: readonly (string | undefined)[];
  /** The SSE frames of the batch, made by the first SSE sink that sends it. */
  frames?: Buffer;
}

export interface Sink {
  readonly buffered: number;
  readonly open: boolean;
  /**
   * The first event: the stream is open; for a watch, after the event `id`, so a client
   * that reconnects before any change continues from there.
   */
  start(id?: string): void;
  send(batch: EventBatch): void;
  end(final: string | undefined, reason: EndReason): void;
  /** Keeps an idle connection alive through proxies; a WebSocket that did not answer the last one is cut. */
  heartbeat(): void;
  /** Called once the connection took what was buffered (below its high-water mark). */
  onDrain(listener: () => void): void;
  onClose(listener: () => void): void;
}

/** The first event of a watch: where it starts, the id a client continues after if it reconnects before any change. */
function openEvent(id?: string): string {
  return id === undefined ? '{"type":"open"}' : `{"type":"open","id":"${id}"}`;
}

/** Why a stream ends: its WebSocket close code says it too. */
export type EndReason = 'overflow' | 'expired' | 'shutdown' | 'error';
const CLOSE_CODES: Readonly<Record<EndReason, number>> = {
  overflow: 1013, // try again later
  expired: 4410, // the 410 of CURSOR_EXPIRED
  shutdown: 1001, // going away
  error: 1011,
};

/** A server-sent event stream (text/event-stream) on a response whose headers are out. */
export class SseSink implements Sink {
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly graceMs: number,
  ) {}

  get buffered(): number {
    return this.res.writableLength;
  }

  get open(): boolean {
    return !this.ended && !this.res.destroyed;
  }

  start(id?: string): void {
    if (this.open) this.res.write(id === undefined ? `data: ${openEvent()}\n\n` : `id: ${id}\ndata: ${openEvent(id)}\n\n`);
  }

  send(batch: EventBatch): void {
    if (!this.open) return;
    if (batch.frames === undefined) {
      const { texts, ids } = batch;
      let chunk = '';
      for (let i = 0; i < texts.length; i++) {
        const id = ids[i];
        chunk += id === undefined ? `data: ${texts[i]}\n\n` : `id: ${id}\ndata: ${texts[i]}\n\n`;
      }
      batch.frames = Buffer.from(chunk);
    }
    this.res.write(batch.frames);
  }

  end(final: string | undefined): void {
    if (!this.open) return;
    this.ended = true;
    this.res.end(final === undefined ? undefined : `data: ${final}\n\n`);
    const cut = setTimeout(() => this.res.destroy(), this.graceMs);
    cut.unref();
    this.res.once('close', () => clearTimeout(cut));
  }

  heartbeat(): void {
    if (this.open) this.res.write(': ping\n\n');
  }

  onDrain(listener: () => void): void {
    this.res.on('drain', listener);
  }

  onClose(listener: () => void): void {
    this.res.once('close', listener);
  }
}

/** A WebSocket (the `ws` package): one message per event. */
export class WebSocketSink implements Sink {
  private ended = false;
  private answered = true;
  private readonly drained: (() => void)[] = [];
  /** Called when the last message of a batch is written out: ws has no drain event of its own. */
  private readonly written = (): void => {
    for (const listener of this.drained) listener();
  };

  constructor(
    private readonly socket: WebSocket,
    private readonly graceMs: number,
  ) {
    socket.on('pong', () => (this.answered = true));
    // A client's messages are not read: a watch takes its parameters from the URL.
  }

  get buffered(): number {
    return this.socket.bufferedAmount;
  }

  get open(): boolean {
    return !this.ended && this.socket.readyState === this.socket.OPEN;
  }

  start(id?: string): void {
    if (this.open) this.socket.send(openEvent(id));
  }

  send({ texts }: EventBatch): void {
    if (!this.open || texts.length === 0) return;
    const last = texts.length - 1;
    for (let i = 0; i < last; i++) this.socket.send(texts[i] as string);
    this.socket.send(texts[last] as string, this.written);
  }

  end(final: string | undefined, reason: EndReason): void {
    if (!this.open) return;
    this.ended = true;
    if (final !== undefined) this.socket.send(final);
    this.socket.close(CLOSE_CODES[reason], reason);
    const cut = setTimeout(() => this.socket.terminate(), this.graceMs);
    cut.unref();
    this.socket.once('close', () => clearTimeout(cut));
  }

  heartbeat(): void {
    if (!this.open) return;
    if (!this.answered) {
      // No pong since the last ping: the peer is gone without a close.
      this.socket.terminate();
      return;
    }
    this.answered = false;
    this.socket.ping();
  }

  onDrain(listener: () => void): void {
    this.drained.push(listener);
  }

  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }
}
