import type { ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import { ApiError } from '../errors';
import { decodeUtf8, readBodyBytes } from '../http/body';
import { sendError, sendJson } from '../http/reply';
import type { RequestContext, Router, Upgraded } from '../http/router';
import { exceedsCodePoints } from '../record/code-points';
import type { ChangeLog } from '../watch/change-log';
import { type Sink, SseSink, WebSocketSink } from '../watch/sinks';
import type { Topics } from '../watch/topics';
import { type WatchScope, WatchHub } from '../watch/watch-hub';
import { spaceOf } from './kv-routes';
import { checkKey, checkValue, firstError, type Limits, readLimit, valueTooLong } from './params';

export interface WatchRouteDeps {
  readonly hub: WatchHub;
  readonly log: ChangeLog;
  readonly topics: Topics;
  readonly limits: Limits;
  /** SEND_TIMEOUT_MS: ms a stream that ends is given to send its last bytes. */
  readonly graceMs: number;
}

/** The longest a long poll may wait. */
export const MAX_WAIT_MS = 60_000;
/** ms an EventSource waits before it reconnects (to another node, behind a balancer). */
const RETRY_MS = 2000;
const SSE_HEADERS = ['Content-Type', 'text/event-stream; charset=utf-8', 'Cache-Control', 'no-cache', 'X-Accel-Buffering', 'no'];
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** A watch as asked: what it sees, where it starts, and how long a long poll waits (undefined: a stream). */
interface WatchRequest {
  readonly scope: WatchScope;
  readonly cursor: number | 'expired';
  readonly waitMs: number | undefined;
  readonly limit: number;
}

/**
 * `/watch` (change feeds), `/publish` and `/subscribe` (topics); docs/watch.md. A watch or
 * a subscription is a server-sent event stream (a GET; `Accept: text/event-stream` is
 * welcome, not needed), a WebSocket (a GET with `Upgrade: websocket`), or — a watch only —
 * a long poll (`wait=`). Each open one holds a slot of WATCH_MAX_CONNECTIONS.
 */
export function registerWatchRoutes(router: Router, deps: WatchRouteDeps): void {
  const { hub, topics, limits, graceMs } = deps;
  // No compression (a thousand watchers would each keep a deflate context), small frames in.
  const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096, clientTracking: false });
  const maxBodyBytes = 4 * limits.maxValueLength;

  /**
   * Refuses a watch or a subscription the node cannot take: a node that is stopping tells an
   * SSE client to come back (200, `retry:`, no event: a browser's EventSource gives up for
   * good on any other status, and behind a balancer it reconnects to another node), and
   * answers anyone else 503 SHUTTING_DOWN; past WATCH_MAX_CONNECTIONS, 503 TOO_MANY_WATCHERS.
   * True when it refused.
   */
  const refused = (ctx: RequestContext, stream: boolean): boolean => {
    if (hub.closing && stream) {
      ctx.res.writeHead(200, SSE_HEADERS);
      ctx.res.end(`retry: ${RETRY_MS}\n\n`);
      return true;
    }
    if (hub.closing) sendError(ctx.res, ApiError.of('SHUTTING_DOWN'));
    else if (!hub.reserve()) sendError(ctx.res, WatchHub.busy());
    else return false;
    return true;
  };

  /** Opens the stream a request asked for on a reserved slot: a WebSocket when it can `take` its socket, else SSE. */
  const openStream = (ctx: RequestContext, take: (() => Upgraded) | undefined, ready: (sink: Sink) => void): void => {
    if (take === undefined) {
      ctx.res.writeHead(200, SSE_HEADERS);
      ctx.res.write(`retry: ${RETRY_MS}\n\n`);
      ready(new SseSink(ctx.res, graceMs));
      return;
    }
    const { socket, head } = take();
    let opened = false;
    // ws answers a handshake it refuses (400) and closes the socket without calling back.
    socket.once('close', () => {
      if (!opened) hub.release();
    });
    sockets.handleUpgrade(ctx.req, socket, head, (ws) => {
      opened = true;
      ready(new WebSocketSink(ws, graceMs));
    });
  };

  const watch = (ctx: RequestContext, take?: () => Upgraded): void => {
    if (ctx.method === 'HEAD') return void ctx.res.writeHead(200, SSE_HEADERS).end();
    const request = readWatch(ctx, deps.log, limits);
    if (request instanceof ApiError) return sendError(ctx.res, request);
    if (take !== undefined && request.waitMs !== undefined) return sendError(ctx.res, new ApiError('INVALID_PARAMETER', 'wait= is for long polling; a WebSocket watch streams: leave wait out.'));
    if (request.waitMs !== undefined && request.cursor === 'expired') return sendError(ctx.res, ApiError.of('CURSOR_EXPIRED'));
    if (refused(ctx, take === undefined && request.waitMs === undefined)) return;
    const { scope, cursor, waitMs } = request;
    if (waitMs !== undefined) return hub.poll(scope, ctx.res, cursor as number, waitMs, request.limit);
    openStream(ctx, take, (sink) => (cursor === 'expired' ? hub.expire(sink) : hub.stream(scope, sink, cursor, ctx.principal)));
  };
  router.register('/watch', (ctx) => watch(ctx), { access: 'read', upgrade: watch });

  const subscribe = (ctx: RequestContext, take?: () => Upgraded): void => {
    if (ctx.method === 'HEAD') return void ctx.res.writeHead(200, SSE_HEADERS).end();
    const topic = readTopic(ctx, limits);
    if (topic instanceof ApiError) return sendError(ctx.res, topic);
    if (refused(ctx, take === undefined)) return;
    openStream(ctx, take, (sink) => topics.subscribe(topic, spaceOf(ctx).length, sink, ctx.principal));
  };
  router.register('/subscribe', (ctx) => subscribe(ctx), { access: 'read', upgrade: subscribe });

  const tooLarge = (): ApiError => valueTooLong(limits.maxValueLength, 413);
  router.register(
    '/publish',
    async (ctx) => {
      const topic = readTopic(ctx, limits);
      const message = ctx.method === 'POST' ? await readMessageBody(ctx, maxBodyBytes, tooLarge, limits) : readMessage(ctx, limits);
      if (topic instanceof ApiError || message instanceof ApiError) return sendError(ctx.res, firstError(topic, message));
      answerPublish(ctx.res, topics.publish(topic, message));
    },
    // GET like /set (a write nkvd clients can send); POST for a message as the body.
    { methods: ['GET', 'POST'], access: 'write' },
  );
}

function answerPublish(res: ServerResponse, subscribers: number): void {
  sendJson(res, 200, `{"success":true,"subscribers":${subscribers}}`);
}

/** `t`, with the tenant's prefix: 1 to MAX_KEY_LENGTH code points. */
function readTopic(ctx: RequestContext, limits: Limits): string | ApiError {
  const topic = ctx.query.get('t');
  if (topic === undefined) return ApiError.of('MISSING_TOPIC_PARAM');
  if (topic.length === 0 || exceedsCodePoints(topic, limits.maxKeyLength)) {
    return new ApiError('INVALID_PARAMETER', `A topic has 1 to ${limits.maxKeyLength} characters (MAX_KEY_LENGTH); got ${topic.length === 0 ? 'an empty one' : 'a longer one'}.`, { maxKeyLength: limits.maxKeyLength });
  }
  return spaceOf(ctx) + topic;
}

function readMessage(ctx: RequestContext, limits: Limits): string | ApiError {
  const message = ctx.query.get('m');
  return message === undefined ? ApiError.of('MISSING_MESSAGE_PARAM') : checkValue(message, limits);
}

async function readMessageBody(ctx: RequestContext, maxBytes: number, tooLarge: () => ApiError, limits: Limits): Promise<string | ApiError> {
  if (ctx.query.get('m') !== undefined) return new ApiError('INVALID_PARAMETER', 'A POST to /publish carries its message as the body: leave m= out of the query.');
  const text = decodeUtf8(await readBodyBytes(ctx.req, maxBytes, tooLarge));
  return text instanceof ApiError ? text : checkValue(text, limits, 413);
}

/**
 * The parameters of a watch: `k` or `prefix` (neither: every key), `after` (else the
 * `Last-Event-ID` header, else the present; `since=now` says so explicitly), `wait` and
 * `limit` for a long poll.
 */
function readWatch(ctx: RequestContext, log: ChangeLog, limits: Limits): WatchRequest | ApiError {
  const query = ctx.query;
  const k = query.get('k');
  const prefix = query.get('prefix');
  if (k !== undefined && prefix !== undefined) return new ApiError('INVALID_PARAMETER', 'A watch takes k=<key> or prefix=<prefix>, not both.');
  const key = k === undefined ? undefined : checkKey(k, limits);
  if (key instanceof ApiError) return key;
  if (prefix !== undefined && exceedsCodePoints(prefix, limits.maxKeyLength)) {
    return new ApiError('INVALID_PARAMETER', `The prefix is longer than ${limits.maxKeyLength} characters (MAX_KEY_LENGTH): no key starts with it.`, { maxKeyLength: limits.maxKeyLength });
  }
  const space = spaceOf(ctx);
  const scope: WatchScope = key === undefined ? { prefix: space + (prefix ?? ''), strip: space.length } : { key: space + key, prefix: space, strip: space.length };

  const since = query.get('since');
  const afterParam = query.get('after');
  if (since !== undefined && since !== 'now') return new ApiError('INVALID_PARAMETER', `since takes now (got "${since.slice(0, 40)}"): to continue after an event, send after=<its id>.`);
  if (since !== undefined && afterParam !== undefined) return new ApiError('INVALID_PARAMETER', 'A watch takes after=<id> or since=now, not both.');
  const header = ctx.req.headers['last-event-id'];
  const after = afterParam ?? (typeof header === 'string' && header !== '' ? header : undefined);
  // From the moment a watch takes its place the node keeps events (a WebSocket's opens later).
  log.activate();
  const cursor = after === undefined ? log.last : log.after(after);
  if (cursor === 'invalid') return ApiError.of('INVALID_CURSOR');

  const waitText = query.get('wait');
  const waitMs = waitText === undefined ? undefined : parseWait(waitText);
  if (waitMs instanceof ApiError) return waitMs;
  const limit = readLimit(query);
  if (limit instanceof ApiError) return limit;
  return { scope, cursor, waitMs, limit };
}

/** `wait` of a long poll: 0 to 60 s; whole milliseconds, or a number with a unit ms, s or m. */
function parseWait(text: string): number | ApiError {
  const match = /^(\d{1,9}(?:\.\d{1,6})?)(ms|s|m)?$/.exec(text);
  const ms = match === null || (match[2] === undefined && match[1]?.includes('.')) ? NaN : Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] as number));
  if (!(ms >= 0 && ms <= MAX_WAIT_MS)) {
    return new ApiError('INVALID_PARAMETER', `wait is how long a long poll waits for events: 0 to ${MAX_WAIT_MS / 1000} s, in whole milliseconds (25000) or with a unit ms, s or m (30s); got "${text.slice(0, 40)}".`, { maxWaitMs: MAX_WAIT_MS });
  }
  return ms;
}
