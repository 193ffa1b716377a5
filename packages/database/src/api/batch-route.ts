import { ApiError } from '../errors';
import { parseJsonBody, readBody } from '../http/body';
import { SUCCESS_BODY, sendError } from '../http/reply';
import type { Router } from '../http/router';
import type { StoredRecord } from '../record/record';
import { StorageFaultError } from '../storage/adapter';
import type { RequestContext } from '../http/router';
import { answerWrite, type KvRouteDeps, MISSING_RECORD, quotaOf, spaceOf } from './kv-routes';
import { checkKey, checkValue, parseTtl, readWriteConcern, storageFaultError } from './params';

export interface BatchRouteDeps extends KvRouteDeps {
  /** BATCH_MAX_OPS: operations in one batch; more is 413. */
  readonly batchMaxOps: number;
  /** Bytes of a batch body at most (413 past it). */
  readonly maxBatchBytes: number;
}

/** One operation of a batch, as checked for shape (its key, value and ttl are checked when it runs). */
type Operation =
  | { readonly op: 'set'; readonly k: string; readonly v: string; readonly ttl?: string | number }
  | { readonly op: 'rm' | 'persist'; readonly k: string }
  | { readonly op: 'expire'; readonly k: string; readonly ttl: string | number };

const OPS = new Set(['set', 'rm', 'expire', 'persist']);

/**
 * POST /batch: `{"ops":[{"op":"set","k":…,"v":…,"ttl":…},{"op":"rm","k":…},…]}` applied
 * in order on this node, answered `{"results":[…]}` one per operation (`{"success":true}`
 * or its error). A body of another shape changes nothing (400 MALFORMED_BODY); an
 * operation that fails (a key too long, a missing key) fails alone. `w`/`wtimeout` wait
 * for the whole batch. Not atomic: the others see the operations as they arrive.
 */
export function registerBatchRoute(router: Router, deps: BatchRouteDeps): void {
  const { store, limits, replication, writeDefaults, batchMaxOps, maxBatchBytes } = deps;
  const ttlOf = (ttl: string | number): number | ApiError => parseTtl(String(ttl), limits);
  const overQuota = quotaOf(deps);

  /** The record written, undefined when nothing had to be (persist of a key without expiry), or the error; `key` as stored. */
  const apply = (ctx: RequestContext, operation: Operation, key: string): ApiError | StoredRecord | undefined => {
    switch (operation.op) {
      case 'set': {
        const value = checkValue(operation.v, limits);
        const ttl = operation.ttl === undefined ? undefined : ttlOf(operation.ttl);
        if (value instanceof ApiError) return value;
        if (ttl instanceof ApiError) return ttl;
        const refused = overQuota(ctx, key, value);
        if (refused !== undefined) return refused;
        return store.set(key, value, ttl === undefined ? undefined : store.expiryNow() + ttl);
      }
      case 'rm':
        return store.remove(key) ?? MISSING_RECORD;
      case 'expire': {
        const ttl = ttlOf(operation.ttl);
        if (ttl instanceof ApiError) return ttl;
        return store.setExpiry(key, store.expiryNow() + ttl) ?? MISSING_RECORD;
      }
      case 'persist': {
        const current = store.liveRecord(key);
        if (current === undefined) return MISSING_RECORD;
        return current.expiresAt === undefined ? undefined : store.setExpiry(key, undefined);
      }
    }
  };

  router.register(
    '/batch',
    async (ctx) => {
      const concern = readWriteConcern(ctx.query, writeDefaults);
      if (concern instanceof ApiError) return sendError(ctx.res, concern);
      const operations = readOperations(parseJsonBody(await readBody(ctx.req, maxBatchBytes)), batchMaxOps);
      const results: string[] = [];
      const writes: [string, StoredRecord][] = [];
      const space = spaceOf(ctx);
      for (const operation of operations) {
        const key = checkKey(operation.k, limits);
        let outcome: ApiError | StoredRecord | undefined;
        try {
          outcome = key instanceof ApiError ? key : apply(ctx, operation, space + key);
        } catch (error) {
          // The disk failed during the batch: what ran is kept (and replicated), the rest is refused.
          if (!(error instanceof StorageFaultError)) throw error;
          outcome = storageFaultError(error.fault);
        }
        if (outcome instanceof ApiError) {
          results.push(outcome.body);
          continue;
        }
        results.push(SUCCESS_BODY);
        if (outcome !== undefined) writes.push([space + operation.k, outcome]);
      }
      const body = `{"results":[${results.join(',')}]}`;
      return answerWrite(ctx.res, replication.replicateWrites(writes, concern), writes.length === 0 ? undefined : store.durable(), undefined, body);
    },
    { methods: ['POST'], hooks: deps.writeHooks ?? [], access: 'write' },
  );
}

/** The operations of a batch body, or 400 MALFORMED_BODY (413 past BATCH_MAX_OPS) naming what is wrong. */
function readOperations(body: unknown, max: number): Operation[] {
  const malformed = (why: string): ApiError => new ApiError('MALFORMED_BODY', `A batch is {"ops":[{"op":"set","k":…,"v":…,"ttl":…},{"op":"rm","k":…},…]}: ${why}.`);
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { ops?: unknown }).ops)) throw malformed('the body has no "ops" array');
  const ops = (body as { ops: unknown[] }).ops;
  if (ops.length > max) throw new ApiError('PAYLOAD_TOO_LARGE', `The batch has ${ops.length} operations; at most ${max} are taken (BATCH_MAX_OPS): send it in parts.`, { batchMaxOps: max });
  ops.forEach((op, index) => {
    if (typeof op !== 'object' || op === null) throw malformed(`operation ${index} is not an object`);
    const { op: name, k, v, ttl } = op as Record<string, unknown>;
    if (typeof name !== 'string' || !OPS.has(name)) throw malformed(`operation ${index} has no "op" of set, rm, expire or persist`);
    if (typeof k !== 'string') throw malformed(`operation ${index} has no string "k"`);
    if (name === 'set' && typeof v !== 'string') throw malformed(`operation ${index} (set) has no string "v"`);
    if ((name === 'expire' || ttl !== undefined) && typeof ttl !== 'string' && typeof ttl !== 'number') throw malformed(`operation ${index} (${name}) has no "ttl" (ms, or a string such as "30s")`);
  });
  return ops as Operation[];
}
