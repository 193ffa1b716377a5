import { expect } from 'chai';
import { silentLogger } from '@meshkv/common';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import { MemoryAdapter } from '../../../src/storage/memory';
import { Store } from '../../../src/store/store';
import { TombstonePurge } from '../../../src/store/tombstone-purge';
import { FakeScheduler } from '../../helpers/fake-scheduler';

describe('TombstonePurge', () => {
  it('purges tombstones once older than the TTL, checking every eighth of it (1 s to 1 min)', async () => {
    const scheduler = new FakeScheduler(1_000_000);
    const store = new Store(new MemoryAdapter(), new HybridClock(scheduler.now), 'n1', { now: scheduler.now, tombstoneTtlMs: 16_000 });
    const purge = new TombstonePurge(store, 16_000, scheduler, silentLogger());
    expect(purge.intervalMs).to.equal(2000);
    expect(new TombstonePurge(store, 1000, scheduler, silentLogger()).intervalMs).to.equal(1000);
    expect(new TombstonePurge(store, 86_400_000, scheduler, silentLogger()).intervalMs).to.equal(60_000);
    store.set('a', '1');
    store.remove('a');
    store.apply('old', { value: null, hlc: hlcFromMs(1_000_000 - 10_000), nodeId: 'n2' }, 'replicated');
    purge.start();
    purge.start(); // once is enough
    expect(store.tombstoneCount).to.equal(2);
    await scheduler.advance(6000);
    expect(store.tombstoneCount).to.equal(2); // the old one is 16 s old: not older than the TTL yet
    await scheduler.advance(2000);
    expect(store.tombstoneCount).to.equal(1); // 18 s old at this check: purged
    await scheduler.advance(8000);
    expect(store.tombstoneCount).to.equal(1);
    await scheduler.advance(2000);
    expect(store.tombstoneCount).to.equal(0);
    purge.stop();
  });
});
