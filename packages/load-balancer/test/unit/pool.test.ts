import { expect } from 'chai';
import { BackendPool } from '../../src/proxy/pool';

const backend = (n: number) => ({ id: `b${n}`, host: '10.0.0.1', port: 8000 + n, name: `b${n}` });

describe('BackendPool', () => {
  let now = 1000;
  let pool: BackendPool;
  beforeEach(() => {
    now = 1000;
    pool = new BackendPool(500, () => now);
    pool.update([backend(1), backend(2), backend(3)]);
  });

  it('hands out backends in round-robin order', () => {
    expect(Array.from({ length: 7 }, () => pool.next()?.backend.id)).to.deep.equal(['b1', 'b2', 'b3', 'b1', 'b2', 'b3', 'b1']);
  });

  it('skips a backend marked down until DOWN_FOR_MS has passed, and excluded ones', () => {
    pool.markDown(pool.get('b2')!, 'ECONNREFUSED');
    expect(Array.from({ length: 4 }, () => pool.next()?.backend.id)).to.deep.equal(['b1', 'b3', 'b1', 'b3']);
    expect(pool.get('b2')).to.include({ connectFailures: 1, lastError: 'ECONNREFUSED' });
    now += 500;
    expect(pool.next(new Set(['b1']))?.backend.id).to.equal('b2');
  });

  it('skips unhealthy backends until a check passes', () => {
    expect(pool.setHealth('b1', false, 'timeout')).to.equal(true);
    expect(pool.setHealth('b1', false, 'timeout')).to.equal(false);
    expect(pool.setHealth('nope', true)).to.equal(false);
    expect(Array.from({ length: 3 }, () => pool.next()?.backend.id)).to.deep.equal(['b2', 'b3', 'b2']);
    pool.markDown(pool.get('b1')!, 'refused');
    expect(pool.setHealth('b1', true)).to.equal(true);
    expect(pool.usable(pool.get('b1')!)).to.equal(true);
  });

  it('falls back to a backend marked down by a failed connect when nothing else is usable', () => {
    for (const id of ['b1', 'b2', 'b3']) pool.markDown(pool.get(id)!, 'refused');
    pool.setHealth('b3', false);
    expect(pool.next()?.backend.id).to.be.oneOf(['b1', 'b2']);
    expect(pool.next(new Set(['b1', 'b2']))).to.equal(undefined);
  });

  it('has nothing to give when every backend is out, or there are none', () => {
    for (const id of ['b1', 'b2', 'b3']) pool.setHealth(id, false);
    expect(pool.next()).to.equal(undefined);
    pool.update([]);
    expect(pool.next()).to.equal(undefined);
  });

  it('keeps the state of backends that stay, and reports who came and went', () => {
    pool.get('b1')!.total = 5;
    const moved = { ...backend(2), host: '10.0.0.9' };
    const { added, removed } = pool.update([backend(1), moved, backend(4)]);
    expect(added.map((b) => `${b.id}@${b.host}`)).to.deep.equal(['b2@10.0.0.9', 'b4@10.0.0.1']);
    expect(removed.map((b) => b.id)).to.deep.equal(['b3']);
    expect(pool.get('b1')?.total).to.equal(5);
    expect(pool.get('b2')?.health).to.equal('unknown');
  });
});
