import { expect } from 'chai';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import { parseQuota, Tenants } from '../../../src/auth/tenants';
import { MemoryAdapter } from '../../../src/storage/memory';
import { reservedKey } from '../../../src/store/namespace';
import { Store } from '../../../src/store/store';

describe('Tenants: usage and quotas', () => {
  let store: Store;
  let tenants: Tenants;
  beforeEach(() => {
    store = new Store(new MemoryAdapter(), new HybridClock(() => 10_000), 'n1');
    tenants = new Tenants(store, { maxKeys: 0, maxBytes: 0 });
  });

  it('counts a tenant from the store when first asked, then follows every change whatever its origin', () => {
    store.set('t1/a', 'xyz');
    store.set('t2/a', 'other');
    store.set('a', 'none');
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 1, bytes: 4 });
    store.set('t1/a', 'x');
    store.set('t1/é', '');
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 2, bytes: 2 + 2 });
    store.apply('t1/b', { value: '12345', hlc: hlcFromMs(9000), nodeId: 'n2' }, 'replicated');
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 3, bytes: 4 + 6 });
    store.remove('t1/a');
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 2, bytes: 8 });
    store.clearTenant('t1');
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 0, bytes: 0 });
    store.set('t1/c', 'c');
    store.clear();
    expect(tenants.usageOf('t1')).to.deep.equal({ keys: 0, bytes: 0 });
  });

  it('refuses a write past a quota, lets through one that takes nothing more', () => {
    store.set(reservedKey('tenant', 't1'), JSON.stringify({ v: 1, maxKeys: 2, maxBytes: 10 }));
    expect(tenants.quotaOf('t1')).to.deep.equal({ maxKeys: 2, maxBytes: 10 });
    expect(tenants.check('t1', 't1/a', '123')).to.equal(undefined);
    store.set('t1/a', '123');
    store.set('t1/b', '1');
    expect(tenants.check('t1', 't1/c', '')?.details).to.deep.equal({ quota: 'keys', limit: 2, used: 2 });
    expect(tenants.check('t1', 't1/a', '12345678')?.details).to.deep.equal({ quota: 'bytes', limit: 10, used: 6 });
    expect(tenants.check('t1', 't1/a', '1234567')).to.equal(undefined);
    expect(tenants.check('t2', 't2/a', 'x'.repeat(1000)), 'no quota for t2').to.equal(undefined);
  });

  it('takes the node defaults for a tenant without quotas, and 0 as none', () => {
    const withDefaults = new Tenants(store, { maxKeys: 1, maxBytes: 0 });
    store.set('t1/a', '1');
    expect(withDefaults.check('t1', 't1/b', '1')?.code).to.equal('QUOTA_EXCEEDED');
    store.set(reservedKey('tenant', 't1'), JSON.stringify({ v: 1, maxKeys: 0 }));
    expect(withDefaults.check('t1', 't1/b', '1')).to.equal(undefined);
  });

  it('reads quota records only when they are quota records', () => {
    expect(parseQuota('{"v":1,"maxKeys":3}')).to.deep.equal({ v: 1, maxKeys: 3 });
    for (const text of ['x', '{}', '{"v":1,"maxKeys":-1}', '{"v":1,"maxBytes":1.5}', 'null']) expect(parseQuota(text), text).to.equal(undefined);
  });
});
