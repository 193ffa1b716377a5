import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Mesh requests are signed, so the mesh secret never leaves a node: an HMAC-SHA256 with
 * the secret over the method, the path (with its query), the time, a nonce and the body's
 * SHA-256, sent as
 *
 *   Authorization: MeshKV-HMAC-SHA256 t=<ms>,n=<nonce>,b=<body digest>,s=<signature>
 *
 * (base64url). A receiver checks the time against its own within the replay window, that
 * it has not seen the nonce in that window, the signature in constant time, and, once the
 * body is read, its digest. A request captured on the wire is good for one use, for that
 * route and body only, within the window; the secret cannot be learned from it.
 */
export const MESH_SIGNATURE_SCHEME = 'MeshKV-HMAC-SHA256';

export interface SignedParts {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  /** The body as sent (empty for none). */
  readonly body: string | Buffer;
}

export interface ParsedSignature {
  readonly time: number;
  readonly nonce: string;
  readonly bodyDigest: string;
  readonly signature: string;
}

export function bodyDigest(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

function signatureOf(secret: string, method: string, path: string, time: number, nonce: string, digest: string): Buffer {
  return createHmac('sha256', secret).update(`${method.toUpperCase()}\n${path}\n${time}\n${nonce}\n${digest}`).digest();
}

const NONCE_BYTES = 12;
/** Random bytes for the next nonces, drawn 512 nonces at a time: one draw costs about as much as the HMAC. */
let noncePool = Buffer.alloc(0);
let nonceAt = 0;

/** A fresh nonce: 12 random bytes never handed out before, base64url. */
function nextNonce(): string {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_BYTES * 512);
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.toString('base64url', nonceAt - NONCE_BYTES, nonceAt);
}

/** The Authorization header value for a mesh request. `now` and `nonce` are inputs for tests. */
export function signMeshRequest(secret: string, parts: SignedParts, now = Date.now(), nonce = nextNonce()): string {
  const digest = bodyDigest(parts.body);
  const signature = signatureOf(secret, parts.method, parts.path, now, nonce, digest).toString('base64url');
  return `${MESH_SIGNATURE_SCHEME} t=${now},n=${nonce},b=${digest},s=${signature}`;
}

const HEADER = new RegExp(`^${MESH_SIGNATURE_SCHEME} t=(\\d{1,16}),n=([A-Za-z0-9_-]{8,64}),b=([A-Za-z0-9_-]{43}),s=([A-Za-z0-9_-]{43})$`);

/** The parts of a signed Authorization header; undefined when it is not one. */
export function parseMeshSignature(header: string | undefined): ParsedSignature | undefined {
  const match = HEADER.exec(header ?? '');
  if (match === null) return undefined;
  return { time: Number(match[1]), nonce: match[2] as string, bodyDigest: match[3] as string, signature: match[4] as string };
}

/** True when `parsed` is the signature of `method` and `path` with `secret` (constant time). */
export function signatureMatches(secret: string, method: string, path: string, parsed: ParsedSignature): boolean {
  const expected = signatureOf(secret, method, path, parsed.time, parsed.nonce, parsed.bodyDigest);
  const given = Buffer.from(parsed.signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
