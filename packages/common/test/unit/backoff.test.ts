import { expect } from 'chai';
import { backoffDelay } from '../../src/backoff';

describe('backoffDelay', () => {
  it('doubles from the minimum, caps at the maximum, and jitters over the upper half', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 100, 1000, () => 1))).to.deep.equal([100, 200, 400, 800]);
    expect(backoffDelay(5, 100, 1000, () => 1)).to.equal(1000);
    expect(backoffDelay(1000, 100, 1000, () => 0)).to.equal(500);
    expect(backoffDelay(1, 100, 1000, () => 0)).to.equal(50);
    expect(backoffDelay(0, 100, 1000, () => 1)).to.equal(100);
  });
});
