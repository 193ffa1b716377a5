import type { Principal } from '../http/router';
import { tenantPrefix } from '../store/namespace';
import { fingerprint, type KeyRecord, readKey, type Scope, SCOPES, secretMatches } from './api-key';

/** Who a request is: the admin key, or a key of the ring. */
export interface Identity extends Principal {
  /** `admin` for ADMIN_KEY; else the key's id. */
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly tenant?: string;
  /** Requests a second per category, if the key has a rate of its own. */
  readonly rate?: number;
}

/** Where the ring finds a key's record by id (the store's reserved namespace, see KeyIndex). */
export interface KeySource {
  get(id: string): KeyRecord | undefined;
}

/** The identity of ADMIN_KEY: every scope, no tenant, no rate limit. */
export const ADMIN_IDENTITY: Identity = { id: 'admin', name: 'ADMIN_KEY', scopes: SCOPES, prefix: '' };

/** Checks remembered at once; past it the oldest are checked again when seen. */
const REMEMBERED = 10_000;
/** Slow checks running at once, and waiting: past them a first sight of a key is told to retry (`busy`). */
const CHECKS_RUNNING = 2;
const CHECKS_WAITING = 64;

/** What the ring remembers of one presented text: the record it was checked against, and the outcome. */
interface Checked {
  readonly id: string;
  readonly hash: string;
  /** Undefined: the secret did not match. */
  identity: Identity | undefined;
  record: KeyRecord;
}

/**
 * Tells who presents a key. A presented text is named by its SHA-256 (never kept itself):
 * ADMIN_KEY's is compared with it, and a key of the ring is checked against its record's
 * slow hash once, the outcome remembered under that name and tied to the record's hash: a
 * key whose record is gone (revoked) or replaced fails at once, whatever was remembered; a
 * wrong secret fails at once the next times. Only a first sight costs the slow hash
 * (asynchronous, off the event loop, at most CHECKS_RUNNING at once); after it `known`
 * answers synchronously with one SHA-256 and two map lookups.
 */
export class KeyRing {
  private readonly checked = new Map<string, Checked>();
  private readonly adminPrint: string | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly source: KeySource,
    adminKey: string | undefined,
  ) {
    this.adminPrint = adminKey === undefined ? undefined : fingerprint(adminKey);
  }

  /** True when keys are required (ADMIN_KEY is set). */
  get enabled(): boolean {
    return this.adminPrint !== undefined;
  }

  /**
   * The identity of `text` if it was checked before and still holds; `null` when it is
   * not a key at all, not one that holds, or a secret that failed its check against the
   * record as it is; undefined when only the slow check can tell (call `check`). `print`:
   * the text's fingerprint, when the caller has it already.
   */
  known(text: string, print = fingerprint(text)): Identity | null | undefined {
    return this.knownBy(print, text);
  }

  /**
   * The identity of `text`, paying the slow hash when it was not checked before; null when
   * it is no valid key; `busy` when too many first sights wait for their check (retry).
   */
  async check(text: string): Promise<Identity | null | 'busy'> {
    const print = fingerprint(text);
    const known = this.knownBy(print, text);
    if (known !== undefined) return known;
    const presented = readKey(text);
    const record = presented === undefined ? undefined : this.source.get(presented.id);
    if (presented === undefined || record === undefined) return null;
    if (this.running >= CHECKS_RUNNING && this.waiting.length >= CHECKS_WAITING) return 'busy';
    await this.turn();
    let matches: boolean;
    try {
      matches = await secretMatches(record, presented.secret);
    } finally {
      this.done();
    }
    // The record may have changed during the check: the hash remembered is the one checked.
    this.remember(print, { id: presented.id, hash: record.hash, record, identity: matches ? identityOf(presented.id, record) : undefined });
    return this.knownBy(print, text) ?? null;
  }

  private knownBy(print: string, text: string): Identity | null | undefined {
    if (print === this.adminPrint) return ADMIN_IDENTITY;
    const remembered = this.checked.get(print);
    if (remembered === undefined) {
      const presented = readKey(text);
      return presented === undefined || this.source.get(presented.id) === undefined ? null : undefined;
    }
    const record = this.source.get(remembered.id);
    if (record === remembered.record) return remembered.identity ?? null;
    if (record === undefined) return null;
    // Another secret under the id: only a new check can tell.
    if (record.hash !== remembered.hash) return remembered.identity === undefined ? undefined : null;
    // The same secret, the record changed otherwise (read again): its identity follows it.
    remembered.record = record;
    if (remembered.identity !== undefined) remembered.identity = identityOf(remembered.id, record);
    return remembered.identity ?? null;
  }

  private remember(print: string, checked: Checked): void {
    this.checked.delete(print);
    this.checked.set(print, checked);
    if (this.checked.size > REMEMBERED) this.checked.delete(this.checked.keys().next().value as string);
  }

  private turn(): Promise<void> {
    if (this.running < CHECKS_RUNNING) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private done(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }
}

function identityOf(id: string, record: KeyRecord): Identity {
  return {
    id,
    name: record.name,
    scopes: record.scopes,
    prefix: record.tenant === undefined ? '' : tenantPrefix(record.tenant),
    ...(record.tenant === undefined ? {} : { tenant: record.tenant }),
    ...(record.rate === undefined ? {} : { rate: record.rate }),
  };
}
