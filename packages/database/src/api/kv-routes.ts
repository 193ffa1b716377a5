import { ApiError } from '../errors';
import { SUCCESS_BODY, sendJson, streamJsonArray } from '../http/reply';
import type { Router } from '../http/router';
import type { Version } from '../clock/version';
import type { RequestContext } from '../http/router';
import { readWriteConcern, type WriteConcern } from '../mesh/write-concern';
import type { StoredRecord } from '../storage/adapter';
import type { Store } from '../store';
import { type Limits, readKey, readValue } from './limits';

/** Where local writes go after they are applied (the mesh; nothing on a lone node). */
export interface Replicator {
  /** Undefined when the client can be answered at once; else settles when `w` is met. */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined;
  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined;
}

/** Methods of the routes that change data: HEAD must stay safe, so it is not one of them. */
const WRITE_METHODS = ['GET'];

/**
 * The nkvd-compatible key/value routes. Handlers throw ApiError for client mistakes; the
 * server turns it into `{"error":CODE,"message":…}` with its status.
 */
export function registerKvRoutes(
  router: Router,
  store: Store,
  limits: Limits,
  replicator: Replicator,
  writeDefaults: WriteConcern,
): void {
  router.register(
    '/set',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const value = readValue(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      return answer(ctx, replicator.replicateWrite(key, store.set(key, value), concern), store.durable());
    },
    { methods: WRITE_METHODS },
  );

  router.register('/get', (ctx) => {
    const json = store.getJson(readKey(ctx.query, limits));
    if (json === undefined) throw new ApiError('MISSING_RECORD');
    sendJson(ctx.res, 200, json);
  });

  router.register('/is', (ctx) => {
    if (!store.has(readKey(ctx.query, limits))) throw new ApiError('MISSING_RECORD');
    sendJson(ctx.res, 200, SUCCESS_BODY);
  });

  router.register(
    '/rm',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      const tombstone = store.remove(key);
      if (tombstone === undefined) throw new ApiError('MISSING_RECORD');
      return answer(ctx, replicator.replicateWrite(key, tombstone, concern), store.durable());
    },
    { methods: WRITE_METHODS },
  );

  router.register(
    '/clear',
    (ctx) => {
      const concern = readWriteConcern(ctx.query, writeDefaults);
      return answer(ctx, replicator.replicateClear(store.clear(), concern), store.durable());
    },
    { methods: WRITE_METHODS },
  );

  router.register('/getKeys', (ctx) => streamJsonArray(ctx.res, render(store.liveEntries(), ([k]) => JSON.stringify(k))));
  router.register('/getValues', (ctx) =>
    streamJsonArray(ctx.res, render(store.liveEntries(), ([, v]) => JSON.stringify(v))),
  );
  router.register('/getAll', (ctx) =>
    streamJsonArray(
      ctx.res,
      render(store.liveEntries(), ([k, v]) => `{"k":${JSON.stringify(k)},"v":${JSON.stringify(v)}}`),
    ),
  );
}

/** `{"success":true}` now, or once the write concern is met (a 504 if it is not in time). */
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
