import { EventSource } from 'eventsource';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';

/** One change a node applied (docs/watch.md): `k` is absent from a clear of every key. */
export interface ChangeEvent {
  readonly type: 'set' | 'rm' | 'expire' | 'clear';
  readonly k?: string;
  /** The value written, on a set. */
  readonly v?: string;
  /** ms since the epoch, on a set of a value that expires. */
  readonly expiresAt?: number;
  /** The key's version (its ETag without quotes), on every event but the clear of one key. */
  readonly version?: string;
  /** What to continue after: `after=` or Last-Event-ID. */
  readonly id: string;
}

/** A message of a topic. */
export interface TopicMessage {
  readonly type: 'message';
  readonly t: string;
  readonly m: string;
}

/** What a watch sees and where it starts. */
export interface WatchOptions {
  /** One key. */
  readonly key?: string;
  /** The keys that start with it (neither: every key the caller may read). */
  readonly prefix?: string;
  /** Continue after this event id (else from the present). */
  readonly after?: string;
}

/** A long poll: waits up to `wait` (ms, or with a unit: `30s`) for events, at most `limit` (1 to 1000, default 100). */
export interface PollOptions extends WatchOptions {
  readonly wait?: number | string;
  readonly limit?: number;
}

/** The answer of a long poll: the events, and the id to continue after. */
export interface PollAnswer {
  readonly events: ChangeEvent[];
  readonly next: string;
}

/** How a stream reaches the node. */
export type StreamTransport = 'sse' | 'websocket';

export interface StreamOptions {
  /** Server-sent events (default) or a WebSocket. */
  readonly transport?: StreamTransport;
  /** ms before reconnecting after the node ended the stream (overflow, shutdown, a cut); default 500. */
  readonly reconnectMs?: number;
}

/** Where a stream connects, and how: built by MeshKvClient. */
export interface StreamTarget {
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
}

/** A stream ended by the node with an error (410 CURSOR_EXPIRED: read the keys again, then watch anew). */
export class StreamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

/**
 * A stream of a watch or a subscription, read with `for await`. When the node ends it
 * (overflow, shutdown, a lost connection), it reconnects by itself and — for a watch —
 * continues after the last event received, so no change is lost or seen twice; an id the
 * node cannot continue from ends the loop with a StreamError (410 CURSOR_EXPIRED), as
 * does a refusal (401, 403, 503). `close()` ends it. Events wait in memory until read.
 */
export class EventStream<T extends { readonly type: string }> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private closed = false;
  private connection: { close(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The id to continue after (a watch): the last event's, or where the node said the stream started. */
  lastId: string | undefined;
  private markOpen: () => void = () => undefined;
  private markDone: () => void = () => undefined;
  /** Resolves once the stream is over (closed, or ended with an error). */
  readonly done: Promise<void> = new Promise((resolve) => (this.markDone = resolve));
  /** Resolves once the node has said the stream is open (its `open` event; for a watch, where it starts). */
  readonly opened: Promise<void> = new Promise((resolve) => (this.markOpen = resolve));

  constructor(
    private readonly target: StreamTarget,
    /** The path and query, without `after`. */
    private readonly path: string,
    private readonly options: StreamOptions,
    after: string | undefined,
  ) {
    this.lastId = after;
    this.connect();
  }


  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.connection?.close();
    this.wake?.();
    this.markDone();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.close();
    }
  }

  private url(): string {
    const after = this.lastId === undefined ? '' : `${this.path.includes('?') ? '&' : '?'}after=${encodeURIComponent(this.lastId)}`;
    return `${this.target.baseUrl}${this.path}${after}`;
  }

  private connect(): void {
    if (this.closed) return;
    if (this.options.transport === 'websocket') this.connectWebSocket();
    else this.connectSse();
  }

  /** One message from the node: an event, the start of a stream, or why it ends. */
  private receive(text: string): void {
    const message = JSON.parse(text) as { type: string; id?: string; status?: number; error?: string; message?: string };
    if (message.type === 'open') {
      if (message.id !== undefined) this.lastId = message.id;
      this.markOpen();
      return;
    }
    if (message.type === 'overflow') return; // the node closes the stream; it reconnects from lastId
    if (message.type === 'error') {
      this.fail(new StreamError(message.status ?? 500, message.error ?? 'STREAM_ERROR', message.message ?? 'The node ended the stream.'));
      return;
    }
    if (message.id !== undefined) this.lastId = message.id;
    this.queue.push(message as unknown as T);
    this.wake?.();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.closed = true;
    this.connection?.close();
    this.wake?.();
    this.markDone();
  }

  /** The node ended the stream without an error: reconnect (after the last id). */
  private again(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => this.connect(), this.options.reconnectMs ?? 500);
  }

  private connectSse(): void {
    const { headers, tls } = this.target;
    const dispatcher = tls === undefined ? undefined : new Agent({ connect: { ...tls } });
    // EventSource sends Last-Event-ID itself when it reconnects; we reconnect ourselves (after=) to choose when.
    const source = new EventSource(this.url(), {
      fetch: (input, init) =>
        undiciFetch(input, { ...init, headers: { ...init.headers, ...headers }, ...(dispatcher === undefined ? {} : { dispatcher }) }),
    });
    this.connection = { close: () => source.close() };
    source.onmessage = (event) => {
      if (event.lastEventId !== '') this.lastId = event.lastEventId;
      this.receive(event.data as string);
    };
    source.onerror = (event) => {
      // A status: the node refused the stream (the library does not retry those); none: the connection ended.
      const status = (event as { code?: number }).code;
      source.close();
      if (status !== undefined && status !== 200) this.fail(new StreamError(status, 'STREAM_REFUSED', event.message ?? `The node answered ${status}.`));
      else this.again();
    };
  }

  private connectWebSocket(): void {
    const { headers, tls } = this.target;
    const socket = new WebSocket(this.url().replace(/^http/, 'ws'), { headers, ...(tls === undefined ? {} : tls), perMessageDeflate: false });
    this.connection = { close: () => socket.close() };
    socket.on('message', (data: Buffer) => this.receive(data.toString('utf8')));
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += String(chunk)));
      response.on('end', () => {
        const parsed = safeJson(body);
        this.fail(new StreamError(response.statusCode ?? 500, parsed?.error ?? 'STREAM_REFUSED', parsed?.message ?? `The node answered ${response.statusCode}.`));
      });
    });
    socket.on('error', () => undefined); // followed by close
    socket.on('close', () => this.again());
  }
}

function safeJson(text: string): { error?: string; message?: string } | undefined {
  try {
    return JSON.parse(text) as { error?: string; message?: string };
  } catch {
    return undefined;
  }
}
