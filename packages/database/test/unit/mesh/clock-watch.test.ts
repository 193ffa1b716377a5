import { expect } from 'chai';
import { silentLogger } from '@meshkv/common';
import { ClockWatch } from '../../../src/mesh/clock-watch';

describe('ClockWatch', () => {
  it('corrects for the round trip: offset = peer time - middle of the round trip, the value of its uncertainty nearest zero', () => {
    const watch = new ClockWatch(60_000, silentLogger());
    watch.measure('http://a:1', 1000, 1010, 5005);
    expect(watch.peers).to.deep.equal([{ url: 'http://a:1', offsetMs: 3994, rttMs: 10 }]);
    watch.measure('http://a:1', 1000, 1010, -2995);
    expect(watch.peers[0]?.offsetMs, 'behind: the same rule').to.equal(-3994);
  });

  it('measures one clock as 0 however slow the ping', () => {
    const watch = new ClockWatch(60_000, silentLogger());
    for (const [sentAt, answeredAt, peerTime] of [[0, 300, 1], [0, 300, 299], [0, 0, 1], [0, 0, 0], [5, 9, 7]] as const) {
      watch.measure('http://a:1', sentAt, answeredAt, peerTime);
      watch.measure('http://b:1', sentAt, answeredAt, peerTime);
      expect([watch.peers.map((peer) => peer.offsetMs), watch.offsetMs], `${sentAt}..${answeredAt}: ${peerTime}`).to.deep.equal([[0, 0], 0]);
    }
  });

  it('takes the median member, itself included: the odd node out is the skewed one', () => {
    const watch = new ClockWatch(60_000, silentLogger());
    expect(watch.thresholdMs).to.equal(30_000);
    watch.measure('http://a:1', 0, 0, -90_000);
    expect(watch.skewed, 'two nodes: the median cannot tell who is wrong').to.equal(false);
    watch.measure('http://b:1', 0, 0, -89_000);
    expect(watch.offsetMs, "of -89 000 ± 1 ms, the value nearest zero").to.equal(88_999);
    expect(watch.skewed).to.equal(true);
    watch.forget('http://b:1');
    watch.forget('http://a:1');
    expect([watch.offsetMs, watch.skewed]).to.deep.equal([0, false]);
  });

  it('never goes below a 100 ms threshold, so noise is not skew', () => {
    expect(new ClockWatch(0, silentLogger()).thresholdMs).to.equal(100);
  });
});
