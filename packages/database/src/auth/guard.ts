import type { Socket } from 'node:net';
import { ApiError } from '../errors';
import { fingerprint } from './api-key';
import type { Access, Hook, HookOutcome, RequestContext } from '../http/router';
import type { Identity, KeyRing } from './key-ring';
import { burstOf, type Category, type RequestMeter } from './meter';

/** RFC 6750: the scheme a client must use, and why a key was refused. */
const CHALLENGE = ['WWW-Authenticate', 'Bearer realm="meshkv"'];
const NO_KEY = new ApiError(
  'UNAUTHORIZED',
  'This node takes requests with an API key only: send it as Authorization: Bearer <key> (or key=<key> in the query, which may end in logs).',
  undefined,
  undefined,
  CHALLENGE,
);
const BAD_KEY = new ApiError('UNAUTHORIZED', 'The API key is not valid here: it is unknown, revoked, or mistyped.', undefined, undefined, [
  'WWW-Authenticate',
  'Bearer realm="meshkv", error="invalid_token"',
]);
const BUSY = new ApiError('RATE_LIMITED', 'Too many API keys are waiting for their first check on this node: retry in a second.', { retryAfterS: 1 }, undefined, ['Retry-After', '1']);
const TENANT_NODE = new ApiError('FORBIDDEN', 'This route describes the whole node, and this key is bound to a tenant: use a key without a tenant.', { tenant: true });
const BEARER = /^bearer +/i;

export interface GuardDeps {
  readonly ring: KeyRing;
  readonly meter: RequestMeter;
}

/**
 * The hook that asks every public request for an API key (registered only when ADMIN_KEY
 * is set): the key from `Authorization: Bearer …` or `key=` in the query; 401 without one
 * or with one that is not valid, 403 when the key lacks the route's scope (or is a
 * tenant's, on a route about the whole node), 429 past its rate. A request that passes
 * carries its identity (`ctx.principal`), whose tenant prefix the routes apply.
 */
export function keyGuard({ ring, meter }: GuardDeps): Hook {
  const admit = (ctx: RequestContext, access: Access, identity: Identity): HookOutcome => {
    const category = categoryOf(access);
    if (category !== undefined && access !== 'any' && !identity.scopes.includes(category)) return forbidden(category);
    if (access === 'node' && identity.tenant !== undefined) return TENANT_NODE;
    const waitMs = meter.take(identity, category ?? 'read');
    if (waitMs > 0) return rateLimited(meter.rateOf(identity), category ?? 'read', waitMs);
    ctx.principal = identity;
    return undefined;
  };
  return (ctx, route) => {
    const access = route.access(ctx.method);
    if (access === 'open' || access === 'mesh') return undefined;
    const presented = presentedKey(ctx);
    if (presented === undefined) return NO_KEY;
    const { text, print } = presented;
    const known = ring.known(text, print);
    if (known === null) return BAD_KEY;
    if (known !== undefined) return admit(ctx, access, known);
    return ring.check(text).then((checked) => (checked === null ? BAD_KEY : checked === 'busy' ? BUSY : admit(ctx, access, checked)));
  };
}

/** A key as presented, and its fingerprint (what the ring looks keys up by). */
interface Presented {
  readonly text: string;
  readonly print: string;
}

/**
 * The Authorization header a connection sent last, with its key: a keep-alive client sends
 * the same header on every request, and pays for reading it and for its SHA-256 once per
 * connection. NB: so an open connection keeps the text of the key it presents (as its
 * requests do while they are read), never longer than the connection.
 */
const lastHeader = new WeakMap<Socket, Presented & { readonly header: string }>();

/** The key a request presents: the bearer token, else `key` in the query. */
function presentedKey(ctx: RequestContext): Presented | undefined {
  const header = ctx.req.headers.authorization;
  if (header !== undefined) {
    const socket = ctx.req.socket;
    const last = lastHeader.get(socket);
    if (last !== undefined && last.header === header) return last;
    if (BEARER.test(header)) {
      const text = header.replace(BEARER, '').trim();
      const presented = { header, text, print: fingerprint(text) };
      lastHeader.set(socket, presented);
      return presented;
    }
  }
  const text = ctx.query.get('key');
  return text === undefined ? undefined : { text, print: fingerprint(text) };
}

function categoryOf(access: Access): Category | undefined {
  switch (access) {
    case 'write':
      return 'write';
    case 'admin':
      return 'admin';
    case 'any':
      return undefined;
    default:
      return 'read';
  }
}

const FORBIDDEN = new Map<Category, ApiError>();
function forbidden(scope: Category): ApiError {
  let error = FORBIDDEN.get(scope);
  if (error === undefined) {
    error = new ApiError('FORBIDDEN', `This API key has no ${scope} scope, which this route needs: use a key made with scopes=${scope}.`, { scope });
    FORBIDDEN.set(scope, error);
  }
  return error;
}

function rateLimited(rate: number, category: Category, waitMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const burst = burstOf(rate);
  return new ApiError(
    'RATE_LIMITED',
    `This API key made more ${category} requests than its rate of ${rate} a second (burst ${burst}) allows on this node: retry after ${seconds} s (Retry-After).`,
    { category, limit: rate, burst, retryAfterS: seconds },
    undefined,
    ['Retry-After', String(seconds)],
  );
}
