import { expect } from 'chai';
import { ADMIN_IDENTITY, type Identity } from '../../../src/auth/key-ring';
import { RequestMeter } from '../../../src/auth/meter';

describe('RequestMeter', () => {
  let now = 0;
  let nodes = 1;
  const meter = (defaultRate = 0): RequestMeter => new RequestMeter({ defaultRate, divisor: () => nodes, now: () => now });
  const key = (rate?: number): Identity => ({ id: 'k1', name: 'k', scopes: ['read'], prefix: '', ...(rate === undefined ? {} : { rate }) });
  beforeEach(() => {
    now = 1_000_000;
    nodes = 1;
  });

  it('lets a burst of `rate` requests through, then tells how long until the next token', () => {
    const m = meter();
    for (let i = 0; i < 3; i++) expect(m.take(key(3), 'read')).to.equal(0);
    expect(m.take(key(3), 'read')).to.equal(334);
    now += 334;
    expect(m.take(key(3), 'read')).to.equal(0);
    expect(m.take(key(3), 'read')).to.be.greaterThan(0);
  });

  it('keeps one bucket per category', () => {
    const m = meter();
    expect(m.take(key(1), 'read')).to.equal(0);
    expect(m.take(key(1), 'read')).to.equal(1000);
    expect(m.take(key(1), 'write')).to.equal(0);
    expect(m.take(key(1), 'admin')).to.equal(0);
    expect(m.counts('k1')).to.deep.equal({ read: 1, write: 1, admin: 1 });
  });

  it('uses RATE_LIMIT for keys without their own rate; 0 is no limit; ADMIN_KEY is counted, never limited', () => {
    const m = meter(1);
    expect(m.take(key(), 'read')).to.equal(0);
    expect(m.take(key(), 'read')).to.equal(1000);
    const open = meter(0);
    for (let i = 0; i < 1000; i++) expect(open.take(key(), 'read')).to.equal(0);
    for (let i = 0; i < 1000; i++) expect(m.take(ADMIN_IDENTITY, 'write')).to.equal(0);
    expect(m.counts('admin').write).to.equal(1000);
  });

  it('divides the rate by the nodes alive when asked (RATE_LIMIT_SPLIT)', () => {
    nodes = 4;
    const m = meter();
    expect(m.rateOf(key(8))).to.equal(2);
    expect(m.take(key(8), 'read')).to.equal(0);
    expect(m.take(key(8), 'read')).to.equal(0);
    expect(m.take(key(8), 'read')).to.equal(500);
  });

  it('refills no more than the burst after a long pause', () => {
    const m = meter();
    m.take(key(2), 'read');
    now += 60_000;
    expect(m.take(key(2), 'read')).to.equal(0);
    expect(m.take(key(2), 'read')).to.equal(0);
    expect(m.take(key(2), 'read')).to.equal(500);
  });
});
