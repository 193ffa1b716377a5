import { bodyDigest, parseMeshSignature, signatureMatches } from '@meshkv/common';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors';
import type { Hook } from '../http/router';
import { presentedBy } from '../http/tls';
import type { TLSSocket } from 'node:tls';

/** A mesh request over TLS without a certificate from the mesh CA. */
const NO_CERTIFICATE = new ApiError(
  'UNAUTHORIZED',
  'Mesh routes take only requests from nodes with a certificate from the mesh CA (MESH_TLS_CA_FILE), over TLS: only nodes of the mesh send them.',
  { certificate: true },
);

/** ms either side of this node's clock a signed request's time may be (covers MAX_CLOCK_DRIFT_MS). */
export const REPLAY_WINDOW_MS = 120_000;
/** Nonces remembered at once; past this the oldest go first (they are near the window's end anyway). */
const MAX_NONCES = 200_000;

/**
 * Checks the signature of mesh requests (see @meshkv/common's mesh-signature): time within
 * REPLAY_WINDOW_MS, nonce not seen in the window, HMAC in constant time; the body's digest
 * is checked once read (`checkBody`). Without MESH_SECRET every request passes.
 */
export class MeshAuth {
  private readonly nonces = new Map<string, number>();
  /** The body digest each signed request announced, checked when its body is read. */
  private readonly announced = new WeakMap<IncomingMessage, string>();

  constructor(
    private readonly secret: string | undefined,
    private readonly now: () => number = Date.now,
    /** With mesh TLS: the SHA-256 fingerprints of the mesh CA, as they are now (reloaded with the files). */
    private readonly meshCa?: () => ReadonlySet<string>,
  ) {}

  get enabled(): boolean {
    return this.secret !== undefined;
  }

  /**
   * Why the request may not pass, or undefined when it is signed with the secret, fresh and
   * not a replay (or no secret is set). A request signed with the secret but at a time
   * outside the window is STALE_SIGNATURE, so that a node whose clock is far off is told
   * so rather than that its secret is wrong.
   */
  refusal(req: IncomingMessage): 'UNAUTHORIZED' | 'STALE_SIGNATURE' | undefined {
    if (this.secret === undefined) return undefined;
    const parsed = parseMeshSignature(req.headers.authorization);
    if (parsed === undefined || !signatureMatches(this.secret, req.method ?? 'GET', req.url ?? '/', parsed)) return 'UNAUTHORIZED';
    const now = this.now();
    if (Math.abs(now - parsed.time) > REPLAY_WINDOW_MS) return 'STALE_SIGNATURE';
    this.forgetOld(now);
    if (this.nonces.has(parsed.nonce)) return 'UNAUTHORIZED';
    this.nonces.set(parsed.nonce, parsed.time);
    if (this.nonces.size > MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value as string);
    this.announced.set(req, parsed.bodyDigest);
    return undefined;
  }

  /** A signed request's body, once read: 401 when it is not the body that was signed. */
  checkBody(req: IncomingMessage, body: string): void {
    if (this.secret === undefined) return;
    if (this.announced.get(req) !== bodyDigest(body)) throw ApiError.of('UNAUTHORIZED');
  }

  /** The hook of every mesh route: 401 UNAUTHORIZED unless signed with the secret. */
  readonly hook: Hook = (ctx) => {
    if (this.meshCa !== undefined && !presentedBy(ctx.req.socket as TLSSocket, this.meshCa())) return NO_CERTIFICATE;
    const refusal = this.refusal(ctx.req);
    return refusal === undefined ? undefined : ApiError.of(refusal);
  };

  private forgetOld(now: number): void {
    for (const [nonce, time] of this.nonces) {
      if (now - time <= REPLAY_WINDOW_MS) break;
      this.nonces.delete(nonce);
    }
  }
}
