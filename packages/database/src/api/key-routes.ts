import { hashSecret, type KeyRecord, newKey, type Scope, SCOPES } from '../auth/api-key';
import type { ReservedIndex } from '../auth/key-index';
import type { Identity } from '../auth/key-ring';
import { burstOf, type RequestMeter } from '../auth/meter';
import type { TenantQuota, Tenants } from '../auth/tenants';
import { ApiError } from '../errors';
import { parseJsonBody, readBody } from '../http/body';
import { sendError, sendJson } from '../http/reply';
import type { Hook, RequestContext, Router } from '../http/router';
import type { WriteConcern } from '../mesh/write-concern';
import { exceedsCodePoints } from '../record/code-points';
import { TENANT_PATTERN } from '../store/namespace';
import type { Store } from '../store/store';
import { answerWrite, forMethods, type ReplicationTarget } from './kv-routes';
import { readWriteConcern } from './params';

export interface KeyRouteDeps {
  readonly store: Store;
  readonly keys: ReservedIndex<KeyRecord>;
  readonly tenants: Tenants;
  readonly meter: RequestMeter;
  readonly replication: ReplicationTarget;
  readonly writeDefaults: WriteConcern;
  readonly writeHooks?: readonly Hook[];
  readonly now: () => number;
}

/** What a key is made from: a query (`/admin/keys/create`) or a JSON body (POST /admin/keys). */
type Fields = (name: string) => string | undefined;

const NAME_MAX = 64;
const RATE_MAX = 1_000_000;
const BODY_MAX_BYTES = 4096;
/** A control character (U+0000 to U+001F, U+007F), refused in names. */
const hasControl = (text: string): boolean => [...text].some((char) => (char.codePointAt(0) as number) < 0x20 || char === '\u007f');
const NO_KEY = new ApiError('MISSING_RECORD', 'No API key has this id.');
const NO_ID = new ApiError('INVALID_PARAMETER', 'The query has no key id: add id=<id> (see /admin/keys/list).');
const invalid = (message: string): ApiError => new ApiError('INVALID_PARAMETER', message);
const invalidTenant = (tenant: string): ApiError => invalid(`A tenant is 1 to 32 letters, digits, '_', '-' or '.', not starting with '.' (got "${tenant.slice(0, 60)}").`);

/**
 * API keys and tenants, for keys with the `admin` scope: `/admin/keys/create|list|revoke`
 * and `/admin/tenants/set|list` in the GET-with-query style of the API, `POST /admin/keys`,
 * `GET /admin/keys`, `GET|DELETE /admin/keys/{id}`, `GET /admin/tenants`, `PUT
 * /admin/tenants/{tenant}` for REST clients; and `/whoami` for any key. A key's secret is
 * answered once, at creation; lists show ids, names, scopes, tenants and rates only.
 */
export function registerKeyRoutes(router: Router, deps: KeyRouteDeps): void {
  const { store, keys, tenants, meter, replication, writeDefaults, now } = deps;
  const ADMIN = { access: 'admin' } as const;
  const writeHooks = deps.writeHooks ?? [];
  const ADMIN_WRITE = { access: 'admin', hooks: writeHooks } as const;
  // Key changes wait for every member by default: once a revoke is answered, no node that answered takes the key.
  const adminDefaults: WriteConcern = { ...writeDefaults, w: 'all' };

  const create = async (ctx: RequestContext, fields: Fields, status: number): Promise<void> => {
    const spec = readKeySpec(fields);
    const concern = readWriteConcern(ctx.query, adminDefaults);
    if (spec instanceof ApiError) return sendError(ctx.res, spec);
    if (concern instanceof ApiError) return sendError(ctx.res, concern);
    let key = newKey();
    while (store.getRecord(keys.keyOf(key.id)) !== undefined) key = newKey();
    const record: KeyRecord = { v: 1, ...spec, createdAt: now(), ...(await hashSecret(key.secret)) };
    const stored = store.set(keys.keyOf(key.id), JSON.stringify(record));
    const body: Record<string, unknown> = { key: key.text, ...describe(key.id, record) };
    // The secret is shown only now: it is answered even when fewer nodes than w have the key yet.
    const acks = replication.replicateWrite(keys.keyOf(key.id), stored, concern);
    await acks?.catch((error: unknown) => {
      if (!(error instanceof ApiError)) throw error;
      body.replication = { error: error.code, message: error.message, ...error.details };
    });
    await store.durable();
    sendJson(ctx.res, status, JSON.stringify(body));
  };

  const revoke = (ctx: RequestContext, id: string | undefined): Promise<void> | void => {
    const concern = readWriteConcern(ctx.query, adminDefaults);
    if (id === undefined || id === '') return sendError(ctx.res, NO_ID);
    if (concern instanceof ApiError) return sendError(ctx.res, concern);
    if (keys.get(id) === undefined) return sendError(ctx.res, NO_KEY);
    const tombstone = store.remove(keys.keyOf(id));
    if (tombstone === undefined) return sendError(ctx.res, NO_KEY);
    return answerWrite(ctx.res, replication.replicateWrite(keys.keyOf(id), tombstone, concern), store.durable());
  };

  const list = (ctx: RequestContext): void => sendJson(ctx.res, 200, JSON.stringify({ keys: keys.entries().map(([id, record]) => describe(id, record)) }));
  const one = (ctx: RequestContext, id: string): void => {
    const record = keys.get(id);
    if (record === undefined) return sendError(ctx.res, NO_KEY);
    sendJson(ctx.res, 200, JSON.stringify(describe(id, record)));
  };

  router.register('/admin/keys/create', (ctx) => create(ctx, (name) => ctx.query.get(name), 200), { ...ADMIN_WRITE, methods: ['GET'] });
  router.register('/admin/keys/list', list, ADMIN);
  router.register('/admin/keys/revoke', (ctx) => revoke(ctx, ctx.query.get('id')), { ...ADMIN_WRITE, methods: ['GET'] });
  router.register(
    '/admin/keys',
    async (ctx) => (ctx.method === 'POST' ? create(ctx, bodyFields(await readBody(ctx.req, BODY_MAX_BYTES)), 201) : list(ctx)),
    { access: 'admin', hooks: forMethods(['POST'], writeHooks), methods: ['GET', 'HEAD', 'POST'] },
  );
  router.register('/admin/keys/', (ctx) => {
    const id = ctx.path.slice('/admin/keys/'.length);
    return ctx.method === 'DELETE' ? revoke(ctx, id) : one(ctx, id);
  }, { access: 'admin', hooks: forMethods(['DELETE'], writeHooks), methods: ['GET', 'HEAD', 'DELETE'], prefix: true, pattern: '/admin/keys/{id}' });

  const setQuota = (ctx: RequestContext, tenant: string | undefined, fields: Fields): Promise<void> | void => {
    const concern = readWriteConcern(ctx.query, adminDefaults);
    if (tenant === undefined || !TENANT_PATTERN.test(tenant)) return sendError(ctx.res, invalidTenant(tenant ?? ''));
    if (concern instanceof ApiError) return sendError(ctx.res, concern);
    const quota = readQuota(fields);
    if (quota instanceof ApiError) return sendError(ctx.res, quota);
    const stored = store.set(tenants.quotas.keyOf(tenant), JSON.stringify(quota));
    return answerWrite(ctx.res, replication.replicateWrite(tenants.quotas.keyOf(tenant), stored, concern), store.durable(), undefined, JSON.stringify(tenants.view(tenant)));
  };
  const listTenants = (ctx: RequestContext): void => {
    const names = new Set<string>(tenants.quotas.entries().map(([tenant]) => tenant));
    for (const [, record] of keys.entries()) if (record.tenant !== undefined) names.add(record.tenant);
    sendJson(ctx.res, 200, JSON.stringify({ tenants: [...names].sort().map((tenant) => tenants.view(tenant)) }));
  };
  router.register('/admin/tenants/set', (ctx) => setQuota(ctx, ctx.query.get('tenant'), (name) => ctx.query.get(name)), { ...ADMIN_WRITE, methods: ['GET'] });
  router.register('/admin/tenants/list', listTenants, ADMIN);
  router.register('/admin/tenants', listTenants, ADMIN);
  router.register('/admin/tenants/', async (ctx) => {
    const tenant = ctx.path.slice('/admin/tenants/'.length);
    if (ctx.method === 'PUT') return setQuota(ctx, tenant, bodyFields(await readBody(ctx.req, BODY_MAX_BYTES)));
    if (!TENANT_PATTERN.test(tenant)) return sendError(ctx.res, invalidTenant(tenant));
    sendJson(ctx.res, 200, JSON.stringify(tenants.view(tenant)));
  }, { access: 'admin', hooks: forMethods(['PUT'], writeHooks), methods: ['GET', 'HEAD', 'PUT'], prefix: true, pattern: '/admin/tenants/{tenant}' });

  router.register('/whoami', (ctx) => {
    const identity = ctx.principal as Identity | undefined;
    if (identity === undefined) return sendJson(ctx.res, 200, JSON.stringify({ id: null, keysRequired: false, message: 'This node takes requests without keys (no ADMIN_KEY).' }));
    const rate = meter.rateOf(identity);
    const whoami = {
      id: identity.id,
      name: identity.name,
      scopes: identity.scopes,
      tenant: identity.tenant ?? null,
      rate: rate === 0 ? null : { perSecond: rate, burst: burstOf(rate) },
      requests: meter.counts(identity.id),
      usage: identity.tenant === undefined ? null : tenants.view(identity.tenant),
    };
    sendJson(ctx.res, 200, JSON.stringify(whoami));
  }, { access: 'any' });
}

/** A JSON object body's fields, as text (a list of scopes as its comma form); 400 MALFORMED_BODY for another shape. */
function bodyFields(text: string): Fields {
  const body = parseJsonBody(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('MALFORMED_BODY', 'The body must be a JSON object, such as {"name":"app","scopes":["read"]}.');
  const fields = body as Record<string, unknown>;
  return (name) => {
    const value = fields[name];
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join(',');
    return typeof value === 'string' ? value : JSON.stringify(value);
  };
}

/** maxKeys and maxBytes (whole numbers; 0: none; absent: the node's default). */
function readQuota(fields: Fields): TenantQuota | ApiError {
  const quota: { v: 1; maxKeys?: number; maxBytes?: number } = { v: 1 };
  for (const name of ['maxKeys', 'maxBytes'] as const) {
    const text = fields(name);
    if (text === undefined) continue;
    if (!/^\d{1,15}$/.test(text)) return invalid(`${name} takes a whole number (0: no quota; got "${text.slice(0, 40)}").`);
    quota[name] = Number(text);
  }
  return quota;
}

/** The fields of a new key: name (1 to 64 characters), scopes (default read,write), tenant, rate. */
function readKeySpec(fields: Fields): Pick<KeyRecord, 'name' | 'scopes' | 'tenant' | 'rate'> | ApiError {
  const name = fields('name');
  if (name === undefined || name === '' || exceedsCodePoints(name, NAME_MAX) || hasControl(name)) {
    return invalid(`A key needs a name of 1 to ${NAME_MAX} characters, without control characters: add name=<what uses it>.`);
  }
  const scopeText = fields('scopes') ?? 'read,write';
  const scopes = [...new Set(scopeText.split(',').map((scope) => scope.trim()))];
  if (scopes.length === 0 || !scopes.every((scope): scope is Scope => (SCOPES as readonly string[]).includes(scope))) {
    return invalid(`scopes takes a comma list of read, write and admin (got "${scopeText.slice(0, 60)}").`);
  }
  const tenant = fields('tenant');
  if (tenant !== undefined && !TENANT_PATTERN.test(tenant)) return invalidTenant(tenant);
  if (tenant !== undefined && scopes.includes('admin')) return invalid('A key with the admin scope sees every tenant: it cannot have a tenant of its own.');
  const rateText = fields('rate');
  const rate = rateText === undefined ? undefined : /^\d{1,7}(\.\d{1,6})?$/.test(rateText) ? Number(rateText) : NaN;
  if (rate !== undefined && !(rate > 0 && rate <= RATE_MAX)) return invalid(`rate takes requests a second, above 0 and at most ${RATE_MAX} (got "${rateText?.slice(0, 40)}").`);
  return { name, scopes: SCOPES.filter((scope) => scopes.includes(scope)), ...(tenant === undefined ? {} : { tenant }), ...(rate === undefined ? {} : { rate }) };
}

/** What a list shows of a key: never its secret, nor its hash. */
function describe(id: string, record: KeyRecord): Record<string, unknown> {
  return { id, name: record.name, scopes: record.scopes, tenant: record.tenant ?? null, rate: record.rate ?? null, createdAt: record.createdAt };
}

