/** The scopes of an API key: reading data, writing it, managing keys and tenants. */
export type KeyScope = 'read' | 'write' | 'admin';

/** What a new key is made with (`/admin/keys/create`). */
export interface KeySpec {
  /** 1 to 64 characters: what uses the key. */
  readonly name: string;
  /** Default: read and write. A key with `admin` has no tenant. */
  readonly scopes?: readonly KeyScope[];
  /** Its data lives under this prefix, invisibly (1 to 32 of A-Z a-z 0-9 _ - .). */
  readonly tenant?: string;
  /** Requests a second per category on each node (burst the same); default: the node's RATE_LIMIT. */
  readonly rate?: number;
}

/** A key as lists show it: never its secret. */
export interface KeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scopes: KeyScope[];
  readonly tenant: string | null;
  readonly rate: number | null;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** A key just made: `key` is its secret text, shown this once. */
export interface CreatedKey extends KeyInfo {
  readonly key: string;
  /** Present when fewer nodes than `w` had the key when it was answered (it still replicates). */
  readonly replication?: { readonly error: string; readonly message: string };
}

/** A tenant's usage (live keys; bytes of keys and values, UTF-8) and its quotas (0: none). */
export interface TenantInfo {
  readonly tenant: string;
  readonly keys: number;
  readonly bytes: number;
  readonly maxKeys: number;
  readonly maxBytes: number;
}

/** Quotas to set for a tenant: absent is the node's default (TENANT_MAX_KEYS, TENANT_MAX_BYTES), 0 is none. */
export interface TenantQuota {
  readonly maxKeys?: number;
  readonly maxBytes?: number;
}

/** `/whoami`: the key that made the request, its rate on this node, its requests here, its tenant's usage. */
export interface WhoAmI {
  /** null when the node takes requests without keys. */
  readonly id: string | null;
  readonly keysRequired?: false;
  readonly name?: string;
  readonly scopes?: KeyScope[];
  readonly tenant?: string | null;
  readonly rate?: { readonly perSecond: number; readonly burst: number } | null;
  readonly requests?: { readonly read: number; readonly write: number; readonly admin: number };
  readonly usage?: TenantInfo | null;
}
