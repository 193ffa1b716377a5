import { ApiError } from '../errors';

export type QueryParams = ReadonlyMap<string, string>;

export const EMPTY_QUERY: QueryParams = new Map();

/**
 * Parses a query string (without the `?`) the way WHATWG URLSearchParams does — `&`
 * separates pairs, the first `=` splits name from value, `+` is a space, empty pairs
 * are skipped — with two refusals where URLSearchParams would silently guess:
 * - a `%` escape that is not valid percent-encoded UTF-8 (`%zz`, `%E2%82`, `%FF`), which
 *   URLSearchParams would keep as text or turn into U+FFFD;
 * - a parameter given more than once (`k=a&k=b`), where it would keep both.
 * Both throw ApiError MALFORMED_QUERY. Names are case-sensitive.
 */
export function parseQuery(search: string): QueryParams {
  if (search.length === 0) return EMPTY_QUERY;
  const params = new Map<string, string>();
  const length = search.length;
  let start = 0;
  while (start < length) {
    let end = search.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      const eq = search.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const name = decodeComponent(search.slice(start, hasValue ? eq : end));
      const value = hasValue ? decodeComponent(search.slice(eq + 1, end)) : '';
      if (params.has(name)) {
        throw new ApiError('MALFORMED_QUERY', `The parameter "${name}" is given more than once: give it once.`);
      }
      params.set(name, value);
    }
    start = end + 1;
  }
  return params;
}

function decodeComponent(raw: string): string {
  const text = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ApiError(
      'MALFORMED_QUERY',
      `The query has a malformed percent escape in "${truncate(raw)}": write a literal % as %25 and encode text as UTF-8.`,
    );
  }
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
