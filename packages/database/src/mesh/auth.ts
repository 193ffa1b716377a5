import { bodyDigest, parseMeshSignature, signatureMatches } from '@meshkv/common';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors';
import type { Hook } from '../http/router';

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
  ) {}

  get enabled(): boolean {
    return this.secret !== undefined;
  }

  /** True when the request is signed with the secret, fresh and not a replay, or no secret is set. */
  allows(req: IncomingMessage): boolean {
    if (this.secret === undefined) return true;
    const parsed = parseMeshSignature(req.headers.authorization);
    if (parsed === undefined) return false;
    const now = this.now();
    if (Math.abs(now - parsed.time) > REPLAY_WINDOW_MS) return false;
    if (!signatureMatches(this.secret, req.method ?? 'GET', req.url ?? '/', parsed)) return false;
    this.forgetOld(now);
    if (this.nonces.has(parsed.nonce)) return false;
    this.nonces.set(parsed.nonce, parsed.time);
    if (this.nonces.size > MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value as string);
    this.announced.set(req, parsed.bodyDigest);
    return true;
  }

  /** A signed request's body, once read: 401 when it is not the body that was signed. */
  checkBody(req: IncomingMessage, body: string): void {
    if (this.secret === undefined) return;
    if (this.announced.get(req) !== bodyDigest(body)) throw ApiError.of('UNAUTHORIZED');
  }

  /** The hook of every mesh route: 401 UNAUTHORIZED unless signed with the secret. */
  readonly hook: Hook = (ctx) => (this.allows(ctx.req) ? undefined : ApiError.of('UNAUTHORIZED'));

  private forgetOld(now: number): void {
    for (const [nonce, time] of this.nonces) {
      if (now - time <= REPLAY_WINDOW_MS) break;
      this.nonces.delete(nonce);
    }
  }
}
