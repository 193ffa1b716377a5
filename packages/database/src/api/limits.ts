import { ApiError } from '../errors';
import type { QueryParams } from '../http/query';

export interface Limits {
  readonly maxKeyLength: number; // code points, inclusive
  readonly maxValueLength: number; // code points, inclusive
}

/**
 * True when `text` has more than `max` Unicode code points. A code point is one or two
 * UTF-16 units, so most strings are settled by their `.length` without counting.
 */
export function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  if (text.length > 2 * max) return true;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count > max) return true;
  }
  return false;
}

/** The key of a request, checked in the order nkvd clients expect. */
export function readKey(query: QueryParams, limits: Limits): string {
  const key = query.get('k');
  if (key === undefined) throw new ApiError('MISSING_KEY_PARAM');
  if (key.length === 0) throw new ApiError('EMPTY_KEY');
  if (exceedsCodePoints(key, limits.maxKeyLength)) {
    throw new ApiError(
      'MAXIMUM_KEY_LENGTH_REACHED',
      `The key is longer than ${limits.maxKeyLength} characters (MAX_KEY_LENGTH); use a shorter key.`,
      { maxKeyLength: limits.maxKeyLength },
    );
  }
  return key;
}

export function readValue(query: QueryParams, limits: Limits): string {
  const value = query.get('v');
  if (value === undefined) throw new ApiError('MISSING_VALUE_PARAM');
  if (exceedsCodePoints(value, limits.maxValueLength)) {
    throw new ApiError(
      'MAXIMUM_VALUE_LENGTH_REACHED',
      `The value is longer than ${limits.maxValueLength} characters (MAX_VALUE_LENGTH); store a shorter value.`,
      { maxValueLength: limits.maxValueLength },
    );
  }
  return value;
}
