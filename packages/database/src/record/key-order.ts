import { isUtf8 } from 'node:buffer';

/**
 * The order of keys, the same on every node and every storage adapter: Unicode code point
 * order, a lone surrogate counting as its own code point (U+D800 to U+DFFF). JavaScript's
 * `<` compares UTF-16 code units instead, which puts U+E000..U+FFFF above every character
 * beyond U+FFFF; the two orders differ only where both strings hold a unit at or above
 * 0xD800 at their first difference, so the common case is one loop over the shared prefix.
 *
 * Storage keys are this order's bytes: WTF-8 (UTF-8 that also encodes a lone surrogate as
 * its three-byte form), whose byte order is this code point order. For well-formed text
 * WTF-8 is UTF-8.
 */
export function compareKeys(a: string, b: string): number {
  const shorter = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < shorter && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === shorter) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x < 0xd800 || y < 0xd800) return x - y;
  // Both at or above the surrogates: compare whole code points, from the start of the one
  // that holds unit i (a high surrogate just before it is shared by both strings).
  if (i > 0 && isHigh(a.charCodeAt(i - 1))) i--;
  for (;;) {
    if (i >= a.length || i >= b.length) return a.length - i - (b.length - i);
    const cx = a.codePointAt(i) as number;
    const cy = b.codePointAt(i) as number;
    if (cx !== cy) return cx - cy;
    i += cx > 0xffff ? 2 : 1;
  }
}

function isHigh(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** The key's WTF-8 bytes, after a one-byte `tag` (LMDB refuses an empty key). */
export function encodeKeyBytes(key: string, tag: number): Buffer {
  if (key.isWellFormed()) {
    const buffer = Buffer.allocUnsafe(1 + Buffer.byteLength(key, 'utf8'));
    buffer[0] = tag;
    buffer.write(key, 1, 'utf8');
    return buffer;
  }
  const bytes: number[] = [tag];
  for (let i = 0; i < key.length; i++) {
    const point = key.codePointAt(i) as number;
    if (point > 0xffff) {
      i++;
      bytes.push(0xf0 | (point >> 18), 0x80 | ((point >> 12) & 0x3f), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f));
    } else if (point > 0x7ff) {
      bytes.push(0xe0 | (point >> 12), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f));
    } else if (point > 0x7f) {
      bytes.push(0xc0 | (point >> 6), 0x80 | (point & 0x3f));
    } else {
      bytes.push(point);
    }
  }
  return Buffer.from(bytes);
}

/**
 * The key of `encodeKeyBytes`' bytes (the tag skipped); undefined when they are not
 * WTF-8 (a damaged file). Valid UTF-8 is decoded by Buffer at once.
 */
export function decodeKeyBytes(bytes: Uint8Array): string | undefined {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1);
  if (isUtf8(body)) return body.toString('utf8');
  let key = '';
  for (let i = 0; i < body.length; ) {
    const first = body[i] as number;
    const length = first < 0x80 ? 1 : first >= 0xc2 && first < 0xe0 ? 2 : first >= 0xe0 && first < 0xf0 ? 3 : first >= 0xf0 && first < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > body.length) return undefined;
    let point = length === 1 ? first : first & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const next = body[i + k] as number;
      if ((next & 0xc0) !== 0x80) return undefined;
      point = (point << 6) | (next & 0x3f);
    }
    const least = length === 2 ? 0x80 : length === 3 ? 0x800 : length === 4 ? 0x10000 : 0;
    if (point < least || point > 0x10ffff) return undefined;
    key += String.fromCodePoint(point);
    i += length;
  }
  // A pair of surrogates encoded separately is not WTF-8: it reads back as one character.
  return encodeKeyBytes(key, 0).subarray(1).equals(body) ? key : undefined;
}
