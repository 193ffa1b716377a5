import { parseWriteConcern, type WriteCount } from '../config';
import { ApiError } from '../errors';
import { exceedsCodePoints } from '../record/code-points';
import type { QueryParams } from '../http/query';
import type { WriteConcern } from '../mesh/write-concern';
import type { StorageFault } from '../storage/adapter';
import { RESERVED_MARK } from '../store/namespace';

/**
 * Readers of the query parameters of the public routes. Each returns the value, or the
 * ApiError to answer with: a client's mistake is an expected outcome on a hot route, and
 * is answered without throwing (a throw costs a stack trace per request).
 */

export interface Limits {
  readonly maxKeyLength: number; // code points, inclusive
  readonly maxValueLength: number; // code points, inclusive
  readonly maxTtlMs: number; // ms, the longest ttl a write may ask for
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `ttl` of a write: undefined when absent; else ms, 1 to MAX_TTL_MS. Whole milliseconds,
 * or a number (decimals allowed) with a unit; a fraction of a millisecond is rounded.
 */
export function readTtl(query: QueryParams, limits: Limits): number | undefined | ApiError {
  const text = query.get('ttl');
  return text === undefined ? undefined : parseTtl(text, limits);
}

/** A ttl's text (`5000`, `30s`, `1.5h`) in ms, 1 to MAX_TTL_MS; see readTtl. */
export function parseTtl(text: string, limits: Limits): number | ApiError {
  const match = /^(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h|d)?$/.exec(text);
  const ms = match === null || (match[2] === undefined && match[1]?.includes('.')) ? NaN : Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] as number));
  if (!(ms >= 1 && ms <= limits.maxTtlMs)) {
    return new ApiError('INVALID_TTL', `The ttl must be a duration from 1 ms to ${limits.maxTtlMs} ms (MAX_TTL_MS): whole milliseconds (5000) or a number with a unit ms, s, m, h or d (30s, 5m, 1.5h); got "${text.slice(0, 40)}".`, { maxTtlMs: limits.maxTtlMs });
  }
  return ms;
}

export const MAX_SCAN_LIMIT = 1000;
export const DEFAULT_SCAN_LIMIT = 100;

/** `limit` of a scan: 1 to 1000, 100 when absent. */
export function readLimit(query: QueryParams): number | ApiError {
  const text = query.get('limit');
  if (text === undefined) return DEFAULT_SCAN_LIMIT;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_SCAN_LIMIT)) return new ApiError('INVALID_LIMIT', `The limit must be a whole number from 1 to ${MAX_SCAN_LIMIT} (got "${text.slice(0, 40)}").`);
  return limit;
}


/** `name=0|1` (or false/true), `fallback` when absent. */
export function readFlag(query: QueryParams, name: string, fallback: boolean): boolean | ApiError {
  const text = query.get(name);
  if (text === undefined) return fallback;
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  return new ApiError('MALFORMED_QUERY', `${name} takes 1 or 0 (true or false), not "${text.slice(0, 40)}".`);
}

/** The key of a request, checked in the order nkvd clients expect. */
export function readKey(query: QueryParams, limits: Limits): string | ApiError {
  return checkKey(query.get('k'), limits);
}

/** A key from wherever a route takes it (the query, the path, a batch): present, not empty, not too long. */
export function checkKey(key: string | undefined, limits: Limits): string | ApiError {
  if (key === undefined) return ApiError.of('MISSING_KEY_PARAM');
  if (key.length === 0) return ApiError.of('EMPTY_KEY');
  if (exceedsCodePoints(key, limits.maxKeyLength)) return tooLong('key', limits.maxKeyLength);
  // Only a JSON body can carry a lone surrogate: a URL's or a text body's decodes to U+FFFD.
  if (key.charCodeAt(0) === RESERVED_MARK) return ApiError.of('INVALID_KEY');
  return key;
}

export function readValue(query: QueryParams, limits: Limits): string | ApiError {
  return checkValue(query.get('v'), limits);
}

/** A value: present, at most MAX_VALUE_LENGTH code points. `status`: 413 for a request body, 400 for a query. */
export function checkValue(value: string | undefined, limits: Limits, status = 400): string | ApiError {
  if (value === undefined) return ApiError.of('MISSING_VALUE_PARAM');
  if (exceedsCodePoints(value, limits.maxValueLength)) return valueTooLong(limits.maxValueLength, status);
  return value;
}

export function valueTooLong(max: number, status = 400): ApiError {
  return tooLong('value', max, status);
}

function tooLong(what: 'key' | 'value', max: number, status = 400): ApiError {
  const [code, setting, detail, fix] =
    what === 'key'
      ? (['MAXIMUM_KEY_LENGTH_REACHED', 'MAX_KEY_LENGTH', 'maxKeyLength', 'use a shorter key'] as const)
      : (['MAXIMUM_VALUE_LENGTH_REACHED', 'MAX_VALUE_LENGTH', 'maxValueLength', 'store a shorter value'] as const);
  return new ApiError(code, `The ${what} is longer than ${max} characters (${setting}); ${fix}.`, { [detail]: max }, status);
}

/** Why the storage cannot be written, as the client is answered (507). */
export function storageFaultError(fault: StorageFault): ApiError {
  return new ApiError('INSUFFICIENT_STORAGE', undefined, { storageFault: fault.kind });
}

/** The first of `reads` that is an error (the order of the checks is the order given). */
export function firstError(...reads: unknown[]): ApiError {
  return reads.find((read): read is ApiError => read instanceof ApiError) as ApiError;
}

const MAX_WTIMEOUT_MS = 3_600_000;

/** `w` and `wtimeout` from the query, the node's defaults otherwise. */
export function readWriteConcern(query: QueryParams, defaults: WriteConcern): WriteConcern | ApiError {
  const w = query.get('w');
  const wtimeout = query.get('wtimeout');
  if (w === undefined && wtimeout === undefined) return defaults;
  let concern: WriteCount | undefined = defaults.w;
  if (w !== undefined) {
    concern = parseWriteConcern(w.toLowerCase());
    if (concern === undefined) return new ApiError('INVALID_WRITE_CONCERN', `w must be a whole number of nodes from 1 to 9999, "all" or "majority" (got "${w}").`);
  }
  let timeoutMs = defaults.timeoutMs;
  if (wtimeout !== undefined) {
    timeoutMs = /^\d{1,7}$/.test(wtimeout) ? Number(wtimeout) : NaN;
    if (!(timeoutMs >= 1 && timeoutMs <= MAX_WTIMEOUT_MS)) {
      return new ApiError('INVALID_WRITE_CONCERN', `wtimeout must be a whole number of milliseconds from 1 to ${MAX_WTIMEOUT_MS} (got "${wtimeout}").`);
    }
  }
  return { w: concern, timeoutMs };
}
