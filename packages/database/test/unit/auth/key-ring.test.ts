import { expect } from 'chai';
import { fingerprint, hashSecret, type KeyRecord, newKey, parseKeyRecord, readKey, sameText, secretMatches } from '../../../src/auth/api-key';
import { ADMIN_IDENTITY, KeyRing } from '../../../src/auth/key-ring';

async function recordOf(secret: string, extra: Partial<KeyRecord> = {}): Promise<KeyRecord> {
  return { v: 1, name: 'app', scopes: ['read'], createdAt: 1, ...(await hashSecret(secret)), ...extra };
}

describe('API keys', () => {
  it('are mkv_<12 hex>_<43 base64url>; anything else is not a key', () => {
    const key = newKey();
    expect(key.text).to.match(/^mkv_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(readKey(key.text)).to.deep.equal({ id: key.id, secret: key.secret });
    for (const text of ['', 'mkv_', `mkv_${key.id}`, `${key.text}x`, key.text.toUpperCase(), ` ${key.text}`, `mkv_${key.id}_${key.secret.slice(1)}`]) expect(readKey(text), text).to.equal(undefined);
    expect(newKey().id).to.not.equal(key.id);
  });

  it('keep only a salted slow hash: the secret matches it, another does not, two hashes of one secret differ', async () => {
    const key = newKey();
    const stored = await hashSecret(key.secret);
    expect(stored.hash).to.not.contain(key.secret);
    expect(await secretMatches(stored, key.secret)).to.equal(true);
    expect(await secretMatches(stored, newKey().secret)).to.equal(false);
    expect((await hashSecret(key.secret)).hash).to.not.equal(stored.hash);
    expect(await secretMatches({ salt: stored.salt, hash: 'short' }, key.secret)).to.equal(false);
  });

  it('read a key record back only when it is one', async () => {
    const record = await recordOf('s', { tenant: 't', rate: 5 });
    expect(parseKeyRecord(JSON.stringify(record))).to.deep.equal(record);
    for (const text of ['nope', 'null', '{}', JSON.stringify({ ...record, v: 2 }), JSON.stringify({ ...record, scopes: ['root'] }), JSON.stringify({ ...record, rate: 0 }), JSON.stringify({ ...record, tenant: 1 })]) {
      expect(parseKeyRecord(text), text).to.equal(undefined);
    }
  });

  it('compare texts in constant time, and name a presented text by its SHA-256 only', () => {
    expect(sameText('abc', 'abc')).to.equal(true);
    expect(sameText('abc', 'abd')).to.equal(false);
    expect(sameText('abc', 'abcd')).to.equal(false);
    expect(fingerprint('secret')).to.not.contain('secret');
    expect(fingerprint('secret')).to.have.length(43);
  });
});

describe('KeyRing', () => {
  const records = new Map<string, KeyRecord>();
  const ADMIN = 'the-admin-key';
  const ring = (admin: string | undefined = ADMIN): KeyRing => new KeyRing({ get: (id) => records.get(id) }, admin);
  const open = (): KeyRing => new KeyRing({ get: (id) => records.get(id) }, undefined);
  beforeEach(() => records.clear());

  it('knows ADMIN_KEY at once, with every scope', () => {
    expect(ring().known('the-admin-key')).to.equal(ADMIN_IDENTITY);
    expect(ring().enabled).to.equal(true);
    expect(open().enabled).to.equal(false);
    expect(open().known(ADMIN), 'no admin key: that text is nothing').to.equal(null);
  });

  it('checks a key once with the slow hash, then knows it synchronously', async () => {
    const key = newKey();
    records.set(key.id, await recordOf(key.secret, { tenant: 'acme' }));
    const r = ring();
    expect(r.known(key.text), 'not checked yet').to.equal(undefined);
    expect(await r.check(key.text)).to.deep.equal({ id: key.id, name: 'app', scopes: ['read'], tenant: 'acme', prefix: 'acme/' });
    expect(r.known(key.text)).to.include({ id: key.id, tenant: 'acme' });
  });

  it('refuses a wrong secret, an unknown id and a text that is no key, and never remembers them as valid', async () => {
    const key = newKey();
    records.set(key.id, await recordOf(key.secret));
    const r = ring();
    const wrong = `mkv_${key.id}_${newKey().secret}`;
    expect(await r.check(wrong)).to.equal(null);
    expect(r.known(wrong), 'a wrong secret fails at once the next time, without the slow hash').to.equal(null);
    records.set(key.id, await recordOf(newKey().secret));
    expect(r.known(wrong), 'the record changed: only a new check can tell').to.equal(undefined);
    expect(await r.check(newKey().text)).to.equal(null);
    expect(r.known(newKey().text)).to.equal(null);
    expect(await r.check('Bearer nonsense')).to.equal(null);
  });

  it('forgets a revoked key at once, and a key whose record was replaced', async () => {
    const key = newKey();
    records.set(key.id, await recordOf(key.secret));
    const r = ring();
    expect(await r.check(key.text)).to.not.equal(null);
    records.delete(key.id);
    expect(r.known(key.text), 'revoked').to.equal(null);
    records.set(key.id, await recordOf(newKey().secret));
    expect(r.known(key.text), 'another secret under the same id').to.equal(null);
    expect(await r.check(key.text)).to.equal(null);
  });
});
