import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors';

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

  /** Throws 401 UNAUTHORIZED unless the request carries the secret (or none is set). */
  check(req: IncomingMessage): void {
    if (this.expected === undefined) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    const given = digest(match === null ? '' : (match[1] as string));
    if (match === null || !timingSafeEqual(given, this.expected)) throw new ApiError('UNAUTHORIZED');
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
