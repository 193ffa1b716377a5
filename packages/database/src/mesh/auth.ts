import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors';
import type { Hook } from '../http/router';

/**
 * Checks `Authorization: Bearer <secret>` in constant time: both sides are hashed first,
 * so neither the secret's content nor its length leaks through timing.
 */
export class MeshAuth {
  private readonly expected: Buffer | undefined;

  constructor(secret: string | undefined) {
    this.expected = secret === undefined ? undefined : digest(secret);
  }

  get enabled(): boolean {
    return this.expected !== undefined;
  }

  /** True when the request carries the secret, or none is set. */
  allows(req: IncomingMessage): boolean {
    if (this.expected === undefined) return true;
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const given = digest(match === null ? '' : (match[1] as string));
    return match !== null && timingSafeEqual(given, this.expected);
  }

  /** The hook of every mesh route: 401 UNAUTHORIZED without the secret. */
  readonly hook: Hook = (ctx) => (this.allows(ctx.req) ? undefined : ApiError.of('UNAUTHORIZED'));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
