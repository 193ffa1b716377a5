/**
 * Hashes for anti-entropy. A key's bucket depends on the key alone; a record's 64-bit
 * fingerprint depends on the key and its version (not the value: a version names one
 * write). Both are computed from the UTF-16 code units, so they never allocate.
 *
 * Two independent 32-bit murmur3-style hashes (different seeds) make the 64 bits.
 */
const SEED_A = 0x9747b28c;
const SEED_B = 0x5bd1e995;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = mix(h, text.charCodeAt(i));
  return h;
}

/** The key's hash, from which its bucket is taken. */
export function keyHash(key: string): number {
  return finish(hashString(SEED_A, key), key.length);
}

/** The bucket of a key among `buckets` (a power of two). */
export function bucketOf(key: string, buckets: number): number {
  return keyHash(key) & (buckets - 1);
}

/**
 * The two 32-bit halves of a record's fingerprint, written into `out` (no allocation on
 * the write path).
 */
export function recordFingerprint(key: string, hlc: number, nodeId: string, out: Uint32Array): void {
  const low = hlc % 0x100000000;
  const high = Math.floor(hlc / 0x100000000);
  let a = hashString(SEED_A, key);
  a = mix(mix(a, low | 0), high | 0);
  a = hashString(a, nodeId);
  let b = hashString(SEED_B, nodeId);
  b = mix(mix(b, high | 0), low | 0);
  b = hashString(b, key);
  const length = key.length + nodeId.length;
  out[0] = finish(a, length);
  out[1] = finish(b, length);
}
