import { expect } from 'chai';
import { PurgeGuard } from '../../../src/mesh/purge-guard';

describe('PurgeGuard', () => {
  it('holds deletes until every node met has synced after them; none met: nothing held', () => {
    const guard = new PurgeGuard();
    expect(guard.horizonMs).to.equal(Infinity);
    guard.met('b', 'http://b:1');
    guard.met('c', 'http://c:1');
    expect(guard.horizonMs).to.equal(0);
    guard.synced('b', 'http://b:1', 500);
    expect(guard.horizonMs).to.equal(0);
    guard.synced('c', 'http://c:1', 300);
    expect(guard.horizonMs).to.equal(300);
    guard.synced('c', 'http://c:1', 200); // an older round finishing late moves nothing back
    expect(guard.horizonMs).to.equal(300);
  });

  it('stops waiting for a node that left, or whose URL answers with another id', () => {
    const guard = new PurgeGuard();
    guard.synced('b', 'http://b:1', 500);
    guard.met('c', 'http://c:1');
    guard.left('c');
    expect(guard.horizonMs).to.equal(500);
    guard.met('b2', 'http://b:1');
    expect(guard.status().map((holder) => holder.nodeId)).to.deep.equal(['b2']);
  });

  it('survives a restart through encode/restore, and skips what it cannot read', () => {
    const guard = new PurgeGuard();
    guard.synced('b', 'http://b:1', 500);
    guard.met('c', 'http://c:1');
    const again = new PurgeGuard();
    again.restore(guard.encode());
    expect(again.status()).to.deep.equal([
      { nodeId: 'c', url: 'http://c:1', syncedAt: null },
      { nodeId: 'b', url: 'http://b:1', syncedAt: 500 },
    ]);
    for (const bad of [undefined, 'not json', '{}', '[["x", 1, "y"], 5]']) {
      const fresh = new PurgeGuard();
      fresh.restore(bad);
      expect(fresh.horizonMs, String(bad)).to.equal(Infinity);
    }
  });
});
