/**
 * Where keys live. A client's key is stored as it is; a tenant's key under its tenant's
 * prefix (`<tenant>/<key>`); the node's own records (API keys, tenant clears and quotas)
 * under a reserved first character that no client key can have: U+D800, a lone surrogate.
 * A URL or a UTF-8 body cannot carry one (it decodes to U+FFFD), and a key from a JSON body
 * that starts with one is refused (`isReserved`). The reserved records replicate and are
 * repaired like any other, but no listing, scan, count or clear of client data sees them.
 */

export const RESERVED_MARK = 0xd800;
const RESERVED = String.fromCharCode(RESERVED_MARK);

/** Separates a tenant's name from its keys in the store. */
export const TENANT_SEPARATOR = '/';

/** What the node keeps in its reserved namespace. */
export type ReservedKind = 'key' | 'clear' | 'tenant';

/** The start of every reserved key of one kind (`\uD800key/`). */
export function reservedPrefix(kind: ReservedKind): string {
  return `${RESERVED}${kind}/`;
}

/** The reserved key of `name` (a key id, a tenant name). */
export function reservedKey(kind: ReservedKind, name: string): string {
  return `${RESERVED}${kind}/${name}`;
}

/** The start of the reserved namespace, for a range over all of it. */
export const RESERVED_START = RESERVED;

/** True for a key of the node's own records (never a client's). */
export function isReserved(key: string): boolean {
  return key.charCodeAt(0) === RESERVED_MARK;
}

/** A tenant name: 1 to 32 letters, digits, `_`, `-` or `.`, not starting with `.` (never holds the separator). */
export const TENANT_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,31}$/;
/** Code points a tenant's prefix adds to its keys in the store, at most. */
export const TENANT_PREFIX_MAX = 33;

/** The store prefix of a tenant's keys. */
export function tenantPrefix(tenant: string): string {
  return `${tenant}${TENANT_SEPARATOR}`;
}

/** The tenant a stored key would belong to (what precedes the first separator), if any. */
export function tenantOf(key: string): string | undefined {
  const end = key.indexOf(TENANT_SEPARATOR);
  return end <= 0 ? undefined : key.slice(0, end);
}
