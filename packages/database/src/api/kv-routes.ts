import { ApiError } from '../errors';
import { SUCCESS_BODY, sendJson, streamJsonArray } from '../http/reply';
import type { Router } from '../http/router';
import type { Store } from '../store';
import { type Limits, readKey, readValue } from './limits';

/** Methods of the routes that change data: HEAD must stay safe, so it is not one of them. */
const WRITE_METHODS = ['GET'];

/**
 * The nkvd-compatible key/value routes. Handlers throw ApiError for client mistakes; the
 * server turns it into `{"error":CODE,"message":…}` with its status.
 */
export function registerKvRoutes(router: Router, store: Store, limits: Limits): void {
  router.register(
    '/set',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const value = readValue(ctx.query, limits);
      store.set(key, value);
      sendJson(ctx.res, 200, SUCCESS_BODY);
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
      if (store.remove(readKey(ctx.query, limits)) === undefined) throw new ApiError('MISSING_RECORD');
      sendJson(ctx.res, 200, SUCCESS_BODY);
    },
    { methods: WRITE_METHODS },
  );

  router.register(
    '/clear',
    (ctx) => {
      store.clear();
      sendJson(ctx.res, 200, SUCCESS_BODY);
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

function* render<T>(items: Iterable<T>, encode: (item: T) => string): Generator<string> {
  for (const item of items) yield encode(item);
}
