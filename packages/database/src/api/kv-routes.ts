import { ApiError } from '../errors';
import { SUCCESS_BODY, sendError, sendJson, streamJsonArray } from '../http/reply';
import type { Hook, RequestContext, Router } from '../http/router';
import type { WriteConcern } from '../mesh/write-concern';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import type { Store } from '../store/store';
import { firstError, type Limits, readKey, readValue, readWriteConcern } from './params';

/** Where local writes go after they are applied (the mesh; nothing on a lone node). */
export interface ReplicationTarget {
  /** Undefined when the client can be answered at once; else settles when `w` is met. */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined;
  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined;
}

export interface KvRouteDeps {
  readonly store: Store;
  readonly limits: Limits;
  readonly replication: ReplicationTarget;
  /** `w` and `wtimeout` when a request gives none (WRITE_CONCERN, WRITE_TIMEOUT_MS). */
  readonly writeDefaults: WriteConcern;
  /** SEND_TIMEOUT_MS: a listing whose client reads nothing for this long is cut. */
  readonly sendTimeoutMs: number;
  /** Hooks of the routes that write (a node whose clock is off takes no writes). */
  readonly writeHooks?: readonly Hook[];
}

/** Methods of the routes that change data: HEAD must stay safe, so it is not one of them. */
const WRITE_METHODS = ['GET'] as const;
const MISSING_RECORD = ApiError.of('MISSING_RECORD');

/**
 * The nkvd-compatible key/value routes. A client's mistake is answered as
 * `{"error":CODE,"message":…}` with its status, returned by the parameter readers rather
 * than thrown: these are the hot routes.
 */
export function registerKvRoutes(router: Router, { store, limits, replication, writeDefaults, sendTimeoutMs, writeHooks = [] }: KvRouteDeps): void {
  const WRITES = { methods: WRITE_METHODS, hooks: writeHooks };
  router.register(
    '/set',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const value = readValue(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || value instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, value, concern));
      return answer(ctx, replication.replicateWrite(key, store.set(key, value), concern), store.durable());
    },
    WRITES,
  );

  router.register('/get', (ctx) => {
    const key = readKey(ctx.query, limits);
    if (key instanceof ApiError) return sendError(ctx.res, key);
    const json = store.getJson(key);
    if (json === undefined) return sendError(ctx.res, MISSING_RECORD);
    sendJson(ctx.res, 200, json);
  });

  router.register('/is', (ctx) => {
    const key = readKey(ctx.query, limits);
    if (key instanceof ApiError) return sendError(ctx.res, key);
    if (!store.has(key)) return sendError(ctx.res, MISSING_RECORD);
    sendJson(ctx.res, 200, SUCCESS_BODY);
  });

  router.register(
    '/rm',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, concern));
      const tombstone = store.remove(key);
      if (tombstone === undefined) return sendError(ctx.res, MISSING_RECORD);
      return answer(ctx, replication.replicateWrite(key, tombstone, concern), store.durable());
    },
    WRITES,
  );

  router.register(
    '/clear',
    (ctx) => {
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (concern instanceof ApiError) return sendError(ctx.res, concern);
      return answer(ctx, replication.replicateClear(store.clear(), concern), store.durable());
    },
    WRITES,
  );

  router.register('/getKeys', (ctx) => streamJsonArray(ctx.res, render(store.liveEntries(), ([k]) => JSON.stringify(k)), sendTimeoutMs));
  router.register('/getValues', (ctx) => streamJsonArray(ctx.res, render(store.liveEntries(), ([, v]) => JSON.stringify(v)), sendTimeoutMs));
  router.register('/getAll', (ctx) =>
    streamJsonArray(
      ctx.res,
      render(store.liveEntries(), ([k, v]) => `{"k":${JSON.stringify(k)},"v":${JSON.stringify(v)}}`),
      sendTimeoutMs,
    ),
  );
}

/** Answers a write once the peers `w` asks for and the disk (DURABILITY=sync) have it. */
function answer(ctx: RequestContext, acks: Promise<void> | undefined, disk: Promise<void> | undefined): Promise<void> | undefined {
  const waits = acks === undefined ? disk : disk === undefined ? acks : Promise.all([acks, disk]);
  if (waits === undefined) {
    sendJson(ctx.res, 200, SUCCESS_BODY);
    return undefined;
  }
  return waits.then(() => sendJson(ctx.res, 200, SUCCESS_BODY));
}

function* render<T>(items: Iterable<T>, encode: (item: T) => string): Generator<string> {
  for (const item of items) yield encode(item);
}
