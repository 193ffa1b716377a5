import { ApiError } from '../errors';
import { decodeUtf8, readBodyBytes } from '../http/body';
import { sendError } from '../http/reply';
import type { RequestContext, Router } from '../http/router';
import { forMethods, type KvRouteDeps, MISSING_RECORD, quotaOf, replicateAndAnswer, spaceOf } from './kv-routes';
import { checkKey, checkValue, firstError, readTtl, readWriteConcern, valueTooLong } from './params';
import { etag } from '../record/version-tag';

export const REST_PREFIX = '/kv/';
const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
const MALFORMED_PATH = ApiError.of('MALFORMED_PATH');

/**
 * `/kv/{key}`: the same records as the nkvd routes, with the value as the body. GET and
 * HEAD answer the value as text with its ETag (304 for a matching If-None-Match); PUT
 * writes the request body (`ttl`, `w`, `wtimeout` in the query); DELETE deletes. Errors
 * are JSON, as on every route.
 */
export function registerRestRoutes(router: Router, deps: KvRouteDeps): void {
  const { store, limits, writeDefaults } = deps;
  const overQuota = quotaOf(deps);
  // A UTF-8 code point is at most 4 bytes: past this the value is too long whatever it says.
  const maxBodyBytes = 4 * limits.maxValueLength;
  const tooLarge = (): ApiError => valueTooLong(limits.maxValueLength, 413);
  const writeHooks = forMethods(['PUT', 'DELETE'], deps.writeHooks ?? []);

  const read = (ctx: RequestContext, key: string): void => {
    const record = store.liveRecord(key);
    if (record === undefined) return sendError(ctx.res, MISSING_RECORD);
    const tag = etag(record);
    if (matches(ctx.req.headers['if-none-match'], tag)) {
      ctx.res.writeHead(304, ['ETag', tag]);
      ctx.res.end();
      return;
    }
    const body = Buffer.from(record.value as string);
    ctx.res.writeHead(200, ['Content-Type', TEXT_CONTENT_TYPE, 'Content-Length', String(body.length), 'ETag', tag]);
    ctx.res.end(body);
  };

  const put = async (ctx: RequestContext, key: string): Promise<void> => {
    const ttl = readTtl(ctx.query, limits);
    const concern = readWriteConcern(ctx.query, writeDefaults);
    if (ttl instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(ttl, concern));
    const text = decodeUtf8(await readBodyBytes(ctx.req, maxBodyBytes, tooLarge));
    const value = text instanceof ApiError ? text : checkValue(text, limits, 413);
    if (value instanceof ApiError) return sendError(ctx.res, value);
    const refused = overQuota(ctx, key, value);
    if (refused !== undefined) return sendError(ctx.res, refused);
    const record = store.set(key, value, ttl === undefined ? undefined : store.expiryNow() + ttl);
    return replicateAndAnswer(deps, ctx.res, key, record, concern);
  };

  const remove = (ctx: RequestContext, key: string): void | Promise<void> => {
    const concern = readWriteConcern(ctx.query, writeDefaults);
    if (concern instanceof ApiError) return sendError(ctx.res, concern);
    const tombstone = store.remove(key);
    if (tombstone === undefined) return sendError(ctx.res, MISSING_RECORD);
    return replicateAndAnswer(deps, ctx.res, key, tombstone, concern);
  };

  router.register(
    REST_PREFIX,
    (ctx) => {
      const key = pathKey(ctx.path, limits);
      if (key instanceof ApiError) return sendError(ctx.res, key);
      const stored = spaceOf(ctx) + key;
      if (ctx.method === 'PUT') return put(ctx, stored);
      if (ctx.method === 'DELETE') return remove(ctx, stored);
      return read(ctx, stored);
    },
    { methods: ['GET', 'HEAD', 'PUT', 'DELETE'], hooks: writeHooks, prefix: true, pattern: `${REST_PREFIX}{key}`, access: (method) => (method === 'PUT' || method === 'DELETE' ? 'write' : 'read') },
  );
}

/** The key of a /kv/ path: the rest of the path, percent-decoded (`a%2Fb` and `a/b` are one key). */
function pathKey(path: string, limits: KvRouteDeps['limits']): string | ApiError {
  const raw = path.slice(REST_PREFIX.length);
  let key: string;
  try {
    key = raw.includes('%') ? decodeURIComponent(raw) : raw;
  } catch {
    return MALFORMED_PATH;
  }
  return checkKey(key, limits);
}

/** True when an If-None-Match header lists `tag` (or is `*`); weak tags compare equal to strong ones. */
function matches(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((item) => {
    const candidate = item.trim();
    return candidate === '*' || candidate === tag || candidate === `W/${tag}`;
  });
}
