import { expect } from 'chai';
import { HybridClock, LOGICAL_BITS, hlcFromMs, physicalMs } from '../../../src/clock/hlc';

describe('HybridClock', () => {
  it('follows the wall clock when it moves forward', () => {
    let now = 1000;
    const clock = new HybridClock(() => now);
    expect(clock.tick()).to.equal(hlcFromMs(1000));
    now = 1005;
    expect(clock.tick()).to.equal(hlcFromMs(1005));
  });

  it('counts up within one millisecond', () => {
    const clock = new HybridClock(() => 1000);
    const a = clock.tick();
    const b = clock.tick();
    expect(b).to.equal(a + 1);
    expect(physicalMs(b)).to.equal(1000);
  });

  it('never goes backwards when the wall clock does', () => {
    let now = 5000;
    const clock = new HybridClock(() => now);
    const before = clock.tick();
    now = 10;
    expect(clock.tick()).to.be.greaterThan(before);
  });

  it('issues values above any value it observed', () => {
    const clock = new HybridClock(() => 1000);
    const remote = hlcFromMs(9000) + 7;
    clock.observe(remote);
    expect(clock.tick()).to.equal(remote + 1);
    clock.observe(hlcFromMs(1)); // an older value changes nothing
    expect(clock.tick()).to.equal(remote + 2);
    expect(clock.peek()).to.equal(remote + 2);
  });

  it('carries the counter into the millisecond field when it overflows', () => {
    const clock = new HybridClock(() => 1000);
    let last = 0;
    for (let i = 0; i <= 2 ** LOGICAL_BITS; i++) last = clock.tick();
    expect(physicalMs(last)).to.equal(1001);
  });

  it('starts from a given value', () => {
    const clock = new HybridClock(() => 1, hlcFromMs(50));
    expect(clock.tick()).to.equal(hlcFromMs(50) + 1);
  });

  it('stays an exact integer for wall-clock times far ahead', () => {
    const year2200 = Date.UTC(2200, 0, 1);
    expect(Number.isSafeInteger(hlcFromMs(year2200) + 2 ** LOGICAL_BITS - 1)).to.equal(true);
  });
});
