import { fingerprint, type KeyRecord, readKey, sameText, type Scope, SCOPES, secretMatches } from './api-key';

/** Who a request is: the admin key, or a key of the ring. */
export interface Identity {
  /** `admin` for ADMIN_KEY; else the key's id. */
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly tenant?: string;
  readonly rate?: number;
}

/** Where the ring finds a key's record by id (the store's reserved namespace). */
export interface KeySource {
  get(id: string): KeyRecord | undefined;
}

/** The identity of ADMIN_KEY: every scope, no tenant. */
export const ADMIN_IDENTITY: Identity = { id: 'admin', name: 'ADMIN_KEY', scopes: SCOPES };

/** Keys whose check is remembered at once; past it the oldest are checked again when seen. */
const REMEMBERED = 10_000;

/**
 * Tells who presents a key. ADMIN_KEY is compared in constant time; a key of the ring is
 * checked against its record's slow hash once, and the outcome remembered under the
 * SHA-256 of the presented text (never the text), tied to the record's hash: a key whose
 * record is gone (revoked) or replaced fails at once, whatever was remembered. Only a
 * first sight costs the slow hash (asynchronous, off the event loop); after it `known`
 * answers synchronously.
 */
export class KeyRing {
  private readonly checked = new Map<string, { readonly id: string; readonly hash: string }>();

  constructor(
    private readonly source: KeySource,
    private readonly adminKey: string | undefined,
  ) {}

  /** True when keys are required (ADMIN_KEY is set). */
  get enabled(): boolean {
    return this.adminKey !== undefined;
  }

  /**
   * The identity of `text` if it was checked before and still holds; `null` when it is
   * not a key at all or not one that holds; undefined when only the slow check can tell
   * (call `check`).
   */
  known(text: string): Identity | null | undefined {
    if (this.adminKey !== undefined && sameText(text, this.adminKey)) return ADMIN_IDENTITY;
    const presented = readKey(text);
    if (presented === undefined) return null;
    const record = this.source.get(presented.id);
    if (record === undefined) return null;
    const remembered = this.checked.get(fingerprint(text));
    if (remembered === undefined) return undefined;
    return remembered.id === presented.id && remembered.hash === record.hash ? identityOf(presented.id, record) : null;
  }

  /** The identity of `text`, paying the slow hash when it was not checked before; null when it is no valid key. */
  async check(text: string): Promise<Identity | null> {
    const known = this.known(text);
    if (known !== undefined) return known;
    const presented = readKey(text);
    const record = presented === undefined ? undefined : this.source.get(presented.id);
    if (presented === undefined || record === undefined || !(await secretMatches(record, presented.secret))) return null;
    // The record may have changed during the check: the hash remembered is the one checked.
    this.remember(fingerprint(text), presented.id, record.hash);
    return this.known(text) ?? null;
  }

  private remember(print: string, id: string, hash: string): void {
    this.checked.delete(print);
    this.checked.set(print, { id, hash });
    if (this.checked.size > REMEMBERED) this.checked.delete(this.checked.keys().next().value as string);
  }
}

function identityOf(id: string, record: KeyRecord): Identity {
  return {
    id,
    name: record.name,
    scopes: record.scopes,
    ...(record.tenant === undefined ? {} : { tenant: record.tenant }),
    ...(record.rate === undefined ? {} : { rate: record.rate }),
  };
}
