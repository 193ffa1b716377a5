import { ApiError } from '../errors';
import { SUCCESS_BODY, sendError, sendJson, sendTaggedJson, streamJsonArray } from '../http/reply';
import type { Hook, RequestContext, RouteOptions, Router } from '../http/router';
import type { WriteConcern } from '../mesh/write-concern';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import { reservedKey } from '../store/namespace';
import type { Store } from '../store/store';
import { firstError, type Limits, readFlag, readKey, readLimit, readTtl, readValue, readWriteConcern } from './params';
import { etag, versionTag } from '../record/version-tag';

/** Where local writes go after they are applied (the mesh; nothing on a lone node). */
export interface ReplicationTarget {
  /** Undefined when the client can be answered at once; else settles when `w` is met. */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined;
  /** Several writes, waited for as one (a batch). */
  replicateWrites(writes: readonly (readonly [string, StoredRecord])[], concern: WriteConcern): Promise<void> | undefined;
  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined;
}

/**
 * Refuses a tenant's write past its quota (keys, bytes): the error, or undefined to let it
 * through. `key` is the key as stored (with the tenant's prefix).
 */
export type QuotaCheck = (tenant: string, key: string, value: string) => ApiError | undefined;

export interface KvRouteDeps {
  readonly store: Store;
  /** Tenant quotas, when keys are required. */
  readonly quota?: QuotaCheck;
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
export const MISSING_RECORD = ApiError.of('MISSING_RECORD');
const TTL_REQUIRED = new ApiError('INVALID_TTL', 'The query has no ttl: add ttl=<duration> (5000, 30s, 5m).');

/**
 * The nkvd-compatible key/value routes, and the query routes of KV v2 (expiry, meta,
 * scan). A client's mistake is answered as `{"error":CODE,"message":…}` with its status,
 * returned by the parameter readers rather than thrown: these are the hot routes. Every
 * answer about one record carries its ETag; nkvd bodies are as they were.
 */
export function registerKvRoutes(router: Router, deps: KvRouteDeps): void {
  const { store, limits, replication, writeDefaults, sendTimeoutMs, writeHooks = [] } = deps;
  const overQuota = quotaOf(deps);
  const WRITES = { methods: WRITE_METHODS, hooks: writeHooks, access: 'write' } as const;
  const READ = { access: 'read' } as const;
  router.register(
    '/set',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const value = readValue(ctx.query, limits);
      const ttl = readTtl(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || value instanceof ApiError || ttl instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, value, ttl, concern));
      const stored = spaceOf(ctx) + key;
      const refused = overQuota(ctx, stored, value);
      if (refused !== undefined) return sendError(ctx.res, refused);
      const record = store.set(stored, value, ttl === undefined ? undefined : store.expiryNow() + ttl);
      return replicateAndAnswer(deps, ctx.res, stored, record, concern);
    },
    WRITES,
  );

  router.register('/get', (ctx) => {
    const key = readKey(ctx.query, limits);
    if (key instanceof ApiError) return sendError(ctx.res, key);
    const stored = spaceOf(ctx) + key;
    const json = store.getJson(stored);
    if (json === undefined) return sendError(ctx.res, MISSING_RECORD);
    sendTaggedJson(ctx.res, 200, json, etag(store.head(stored) as Version));
  }, READ);

  router.register('/is', (ctx) => {
    const key = readKey(ctx.query, limits);
    if (key instanceof ApiError) return sendError(ctx.res, key);
    const head = store.liveHead(spaceOf(ctx) + key);
    if (head === undefined) return sendError(ctx.res, MISSING_RECORD);
    sendTaggedJson(ctx.res, 200, SUCCESS_BODY, etag(head));
  }, READ);

  router.register(
    '/rm',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, concern));
      const stored = spaceOf(ctx) + key;
      const tombstone = store.remove(stored);
      if (tombstone === undefined) return sendError(ctx.res, MISSING_RECORD);
      return replicateAndAnswer(deps, ctx.res, stored, tombstone, concern);
    },
    WRITES,
  );

  router.register(
    '/clear',
    (ctx) => {
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (concern instanceof ApiError) return sendError(ctx.res, concern);
      // A tenant's clear is its own watermark, a record; the others clear every client record.
      const tenant = ctx.principal?.tenant;
      if (tenant === undefined) return answerWrite(ctx.res, replication.replicateClear(store.clear(), concern), store.durable());
      const mark = store.clearTenant(tenant);
      return answerWrite(ctx.res, replication.replicateWrite(reservedKey('clear', tenant), mark, concern), store.durable());
    },
    WRITES,
  );

  const listing = (encode: (entry: [string, string]) => string) => (ctx: RequestContext) => {
    const space = spaceOf(ctx);
    const prefix = ctx.query.get('prefix');
    const entries = space === '' ? store.liveEntries(prefix) : unprefixed(store.liveEntries(space + (prefix ?? '')), space.length);
    return streamJsonArray(ctx.res, render(entries, encode), sendTimeoutMs);
  };
  router.register('/getKeys', listing(([k]) => JSON.stringify(k)), READ);
  router.register('/getValues', listing(([, v]) => JSON.stringify(v)), READ);
  router.register('/getAll', listing(([k, v]) => `{"k":${JSON.stringify(k)},"v":${JSON.stringify(v)}}`), READ);

  registerExpiryRoutes(router, deps, WRITES);

  router.register('/meta', (ctx) => {
    const key = readKey(ctx.query, limits);
    const withValue = readFlag(ctx.query, 'v', false);
    if (key instanceof ApiError || withValue instanceof ApiError) return sendError(ctx.res, firstError(key, withValue));
    const record = store.liveRecord(spaceOf(ctx) + key);
    if (record === undefined) return sendError(ctx.res, MISSING_RECORD);
    const value = record.value as string;
    const meta: Record<string, unknown> = { k: key, version: versionTag(record), ttlMs: ttlOf(record, store.expiryNow()), size: Buffer.byteLength(value) };
    if (withValue) meta.v = value;
    sendTaggedJson(ctx.res, 200, JSON.stringify(meta), etag(record));
  }, READ);

  router.register('/scan', (ctx) => {
    const limit = readLimit(ctx.query);
    const values = readFlag(ctx.query, 'values', true);
    if (limit instanceof ApiError || values instanceof ApiError) return sendError(ctx.res, firstError(limit, values));
    const space = spaceOf(ctx);
    const after = ctx.query.get('after');
    const page = store.scan({ prefix: space + (ctx.query.get('prefix') ?? ''), limit, ...(after === undefined ? {} : { after: space + after }) });
    const items = page.items.map(([k, record]) => (values ? `{"k":${JSON.stringify(k.slice(space.length))},"v":${JSON.stringify(record.value)}}` : JSON.stringify(k.slice(space.length))));
    const last = page.items.at(-1);
    const next = page.more && last !== undefined ? JSON.stringify(last[0].slice(space.length)) : 'null';
    sendJson(ctx.res, 200, `{"items":[${items.join(',')}],"next":${next}}`);
  }, READ);
}

/** /expire, /persist and /ttl. */
function registerExpiryRoutes(router: Router, deps: KvRouteDeps, WRITES: RouteOptions): void {
  const { store, limits, writeDefaults } = deps;
  router.register(
    '/expire',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const ttl = readTtl(ctx.query, limits) ?? TTL_REQUIRED;
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || ttl instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, ttl, concern));
      const stored = spaceOf(ctx) + key;
      const record = store.setExpiry(stored, store.expiryNow() + ttl);
      if (record === undefined) return sendError(ctx.res, MISSING_RECORD);
      return replicateAndAnswer(deps, ctx.res, stored, record, concern);
    },
    WRITES,
  );

  router.register(
    '/persist',
    (ctx) => {
      const key = readKey(ctx.query, limits);
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (key instanceof ApiError || concern instanceof ApiError) return sendError(ctx.res, firstError(key, concern));
      const stored = spaceOf(ctx) + key;
      const current = store.liveRecord(stored);
      if (current === undefined) return sendError(ctx.res, MISSING_RECORD);
      // Nothing to remove: no write, no new version (as Redis' PERSIST answers 0).
      if (current.expiresAt === undefined) return answerWrite(ctx.res, undefined, undefined, current);
      const record = store.setExpiry(stored, undefined) as StoredRecord;
      return replicateAndAnswer(deps, ctx.res, stored, record, concern);
    },
    WRITES,
  );

  router.register('/ttl', (ctx) => {
    const key = readKey(ctx.query, limits);
    if (key instanceof ApiError) return sendError(ctx.res, key);
    const record = store.liveRecord(spaceOf(ctx) + key);
    if (record === undefined) return sendError(ctx.res, MISSING_RECORD);
    sendTaggedJson(ctx.res, 200, `{"ttlMs":${ttlOf(record, store.expiryNow()) ?? 'null'}}`, etag(record));
  }, { access: 'read' });
}

/** ms left before a live record expires (at least 1), null when it never does. */
export function ttlOf(record: StoredRecord, now: number): number | null {
  return record.expiresAt === undefined ? null : Math.max(1, Math.ceil(record.expiresAt - now));
}

/** Sends a local write of one record to the peers and answers it once `w` and the disk have it, with its ETag. */
export function replicateAndAnswer({ store, replication }: Pick<KvRouteDeps, 'store' | 'replication'>, res: RequestContext['res'], key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined {
  return answerWrite(res, replication.replicateWrite(key, record, concern), store.durable(), record);
}

/**
 * Answers a write (`body`: `{"success":true}`) once the peers `w` asks for and the disk
 * (DURABILITY=sync) have it, with the new record's ETag when there is one record.
 */
export function answerWrite(res: RequestContext['res'], acks: Promise<void> | undefined, disk: Promise<void> | undefined, record?: Version, body = SUCCESS_BODY): Promise<void> | undefined {
  const waits = acks === undefined ? disk : disk === undefined ? acks : Promise.all([acks, disk]);
  if (waits === undefined) {
    sendWritten(res, body, record);
    return undefined;
  }
  return waits.then(() => sendWritten(res, body, record));
}

function sendWritten(res: RequestContext['res'], body: string, record: Version | undefined): void {
  if (record === undefined) sendJson(res, 200, body);
  else sendTaggedJson(res, 200, body, etag(record));
}

function* render<T>(items: Iterable<T>, encode: (item: T) => string): Generator<string> {
  for (const item of items) yield encode(item);
}

/** `hooks`, run only for requests of `methods` (the write hooks of a route that also reads). */
export function forMethods(methods: readonly string[], hooks: readonly Hook[]): Hook[] {
  return hooks.map((hook): Hook => (ctx, route) => (methods.includes(ctx.method) ? hook(ctx, route) : undefined));
}

/** The store prefix of the request's tenant (`<tenant>/`), '' when it has none or keys are not required. */
export function spaceOf(ctx: RequestContext): string {
  return ctx.principal === undefined ? '' : ctx.principal.prefix;
}

/** The request's quota check: refuses a tenant's write past its quota; lets every other write through. */
export function quotaOf({ quota }: Pick<KvRouteDeps, 'quota'>): (ctx: RequestContext, key: string, value: string) => ApiError | undefined {
  return (ctx, key, value) => {
    const tenant = ctx.principal?.tenant;
    return tenant === undefined || quota === undefined ? undefined : quota(tenant, key, value);
  };
}

/** Entries with their keys' first `length` characters (a tenant's prefix) cut. */
function* unprefixed(entries: Iterable<[string, string]>, length: number): Generator<[string, string]> {
  for (const [key, value] of entries) yield [key.slice(length), value];
}
