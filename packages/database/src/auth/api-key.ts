import * as crypto from 'node:crypto';
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * API keys: what a client presents, and what a node keeps of it. A key reads
 * `mkv_<id>_<secret>`: the id (12 hex digits) names its record, the secret (32 random
 * bytes, base64url) proves it. A node keeps only a slow salted hash of the secret
 * (scrypt), so a copy of the data does not give the keys away; a presented key is
 * checked against it once, and the outcome remembered by the SHA-256 of what was
 * presented (see KeyRing), so the slow hash is not paid on every request.
 */

export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** What a node keeps of a key: a record value in the reserved namespace. */
export interface KeyRecord {
  readonly v: 1;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** The prefix its data lives under, if any. */
  readonly tenant?: string;
  /** Requests a second per category, if the key has its own limit. */
  readonly rate?: number;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** scrypt of the secret, base64url, and its salt. */
  readonly salt: string;
  readonly hash: string;
}

/** A presented key, read: its id and secret. */
export interface PresentedKey {
  readonly id: string;
  readonly secret: string;
}

const KEY_PATTERN = /^mkv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** scrypt's cost: about 16 MB and tens of ms a check, paid once per presented key and node. */
const SCRYPT = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const HASH_BYTES = 32;

/** A new key: its text (shown once) and its id. */
export function newKey(): { id: string; text: string; secret: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, text: `mkv_${id}_${secret}` };
}

/** The id and secret of a key's text; undefined when it is not shaped as a key. */
export function readKey(text: string): PresentedKey | undefined {
  const match = KEY_PATTERN.exec(text);
  return match === null ? undefined : { id: match[1] as string, secret: match[2] as string };
}

/** The salt and hash a node keeps of `secret`. */
export async function hashSecret(secret: string, salt = randomBytes(16)): Promise<{ salt: string; hash: string }> {
  const hash = await scryptAsync(secret, salt);
  return { salt: salt.toString('base64url'), hash: hash.toString('base64url') };
}

/** True when `secret` is the one `record` was made from (constant time). */
export async function secretMatches(record: Pick<KeyRecord, 'salt' | 'hash'>, secret: string): Promise<boolean> {
  const expected = Buffer.from(record.hash, 'base64url');
  if (expected.length !== HASH_BYTES) return false;
  const actual = await scryptAsync(secret, Buffer.from(record.salt, 'base64url'));
  return timingSafeEqual(actual, expected);
}

/** SHA-256 of a presented text: the name under which its check is remembered (never the text itself). */
export function fingerprint(text: string): string {
  // crypto.hash (Node 20.12) is the one-shot form, about twice as fast: this runs on every request.
  return oneShot === undefined ? createHash('sha256').update(text).digest('base64url') : oneShot('sha256', text, 'base64url');
}

const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/** True when two texts are equal, in time that does not depend on where they differ (ADMIN_KEY). */
export function sameText(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The JSON object a stored text holds; undefined when it holds anything else (the node's own records are checked, never trusted blindly). */
export function parseStoredObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A key record read back from its stored text; undefined when it is not one. */
export function parseKeyRecord(text: string): KeyRecord | undefined {
  const record = parseStoredObject(text);
  if (record === undefined) return undefined;
  const scopes = record.scopes;
  const valid =
    record.v === 1 &&
    typeof record.name === 'string' &&
    Array.isArray(scopes) &&
    scopes.every((scope) => SCOPES.includes(scope as Scope)) &&
    (record.tenant === undefined || typeof record.tenant === 'string') &&
    (record.rate === undefined || (typeof record.rate === 'number' && record.rate > 0)) &&
    typeof record.createdAt === 'number' &&
    typeof record.salt === 'string' &&
    typeof record.hash === 'string';
  return valid ? (record as unknown as KeyRecord) : undefined;
}

function scryptAsync(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, HASH_BYTES, SCRYPT, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}
