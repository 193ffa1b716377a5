import { ApiError } from '../errors';
import type { StoreChange } from '../store/change';
import { TENANT_SEPARATOR, tenantOf, tenantPrefix } from '../store/namespace';
import type { Store } from '../store/store';
import { parseStoredObject } from './api-key';
import { ReservedIndex } from './key-index';

/** A tenant's quotas as set for it (`/admin/tenants/set`); a missing one is the node's default, 0 is none. */
export interface TenantQuota {
  readonly v: 1;
  readonly maxKeys?: number;
  readonly maxBytes?: number;
}

/** What a tenant stores: live keys, and bytes of its keys (without the prefix) and values, UTF-8. */
export interface TenantUsage {
  keys: number;
  bytes: number;
}

export interface QuotaDefaults {
  /** TENANT_MAX_KEYS, TENANT_MAX_BYTES; 0: none. */
  readonly maxKeys: number;
  readonly maxBytes: number;
}

/** A tenant's usage with its quotas in force (0: none). */
export interface TenantView extends TenantUsage {
  readonly tenant: string;
  readonly maxKeys: number;
  readonly maxBytes: number;
}

/** A tenant's quota record read back from its stored text; undefined when it is not one. */
export function parseQuota(text: string): TenantQuota | undefined {
  const value = parseStoredObject(text);
  if (value === undefined) return undefined;
  const { v, maxKeys, maxBytes } = value;
  const count = (n: unknown): boolean => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
  return v === 1 && count(maxKeys) && count(maxBytes) ? (value as unknown as TenantQuota) : undefined;
}

/**
 * Tenants' quotas and usage. The quotas are records of the reserved namespace (replicated);
 * the usage of a tenant is counted from the store the first time it is asked for, then kept
 * up to date by the store's change events, so it follows the replicated data and every node
 * agrees once converged. Writes on several nodes at once may each see room for themselves
 * and overshoot a quota briefly (docs/security.md).
 */
export class Tenants {
  readonly quotas: ReservedIndex<TenantQuota>;
  private readonly usage = new Map<string, TenantUsage>();

  constructor(
    private readonly store: Store,
    private readonly defaults: QuotaDefaults,
  ) {
    this.quotas = new ReservedIndex(store, 'tenant', parseQuota);
    store.trackValues((key) => this.usage.size > 0 && this.usageFor(key) !== undefined);
    store.onChange((change) => this.track(change));
  }

  /** The usage of `tenant`, counted now if it was never asked for. */
  usageOf(tenant: string): TenantUsage {
    let usage = this.usage.get(tenant);
    if (usage === undefined) {
      usage = { keys: 0, bytes: 0 };
      const prefix = tenantPrefix(tenant);
      for (const [key, value] of this.store.liveEntries(prefix)) {
        usage.keys++;
        usage.bytes += bytesOf(key, prefix.length, value);
      }
      this.usage.set(tenant, usage);
    }
    return usage;
  }

  /** The quotas in force for `tenant` (its own, else the node's defaults; 0: none). */
  quotaOf(tenant: string): { maxKeys: number; maxBytes: number } {
    const own = this.quotas.get(tenant);
    return { maxKeys: own?.maxKeys ?? this.defaults.maxKeys, maxBytes: own?.maxBytes ?? this.defaults.maxBytes };
  }

  view(tenant: string): TenantView {
    return { tenant, ...this.usageOf(tenant), ...this.quotaOf(tenant) };
  }

  /**
   * 403 QUOTA_EXCEEDED when writing `value` under `key` (as stored) would take the tenant
   * past a quota; a write that takes nothing more (an overwrite with a value no longer) is
   * always let through, so a tenant over its quota can still shrink.
   */
  readonly check = (tenant: string, key: string, value: string): ApiError | undefined => {
    const { maxKeys, maxBytes } = this.quotaOf(tenant);
    if (maxKeys === 0 && maxBytes === 0) return undefined;
    const usage = this.usageOf(tenant);
    const prefixLength = tenant.length + 1;
    const current = this.store.liveRecord(key);
    const keys = usage.keys + (current === undefined ? 1 : 0);
    const bytes = usage.bytes - (current === undefined ? 0 : bytesOf(key, prefixLength, current.value as string)) + bytesOf(key, prefixLength, value);
    if (maxKeys > 0 && keys > maxKeys && keys > usage.keys) return exceeded('keys', maxKeys, usage.keys);
    if (maxBytes > 0 && bytes > maxBytes && bytes > usage.bytes) return exceeded('bytes', maxBytes, usage.bytes);
    return undefined;
  };

  /** The usage a stored key counts in, if its tenant is followed. */
  private usageFor(key: string): TenantUsage | undefined {
    const tenant = tenantOf(key);
    return tenant === undefined ? undefined : this.usage.get(tenant);
  }

  private track(change: StoreChange): void {
    if (this.usage.size === 0) return;
    if (change.type === 'clear') {
      // Emptied: every record is gone at once; otherwise each one removed came as its own change.
      if (change.emptied) for (const usage of this.usage.values()) Object.assign(usage, { keys: 0, bytes: 0 });
      return;
    }
    const usage = this.usageFor(change.key);
    if (usage === undefined) return;
    const prefixLength = change.key.indexOf(TENANT_SEPARATOR) + 1;
    const before = change.previous !== undefined && !change.previous.tombstone && typeof change.previousValue === 'string';
    const value = change.record?.value;
    const after = value !== undefined && value !== null;
    usage.keys += (after ? 1 : 0) - (before ? 1 : 0);
    if (before) usage.bytes -= bytesOf(change.key, prefixLength, change.previousValue);
    if (after) usage.bytes += bytesOf(change.key, prefixLength, value);
  }
}


function bytesOf(key: string, prefixLength: number, value: string): number {
  return Buffer.byteLength(key) - prefixLength + Buffer.byteLength(value);
}

function exceeded(quota: 'keys' | 'bytes', limit: number, used: number): ApiError {
  const what = quota === 'keys' ? `${limit} keys` : `${limit} bytes of keys and values`;
  return new ApiError('QUOTA_EXCEEDED', `The write would take the tenant past its quota of ${what} (it uses ${used}): delete keys first, or ask for a higher quota. Reads and deletes go on.`, { quota, limit, used });
}
