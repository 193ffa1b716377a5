import { expect } from 'chai';
import { compareVersions } from '../../../src/record/version';

describe('compareVersions', () => {
  const cases = [
    { desc: 'higher hlc wins', a: { hlc: 2, nodeId: 'a' }, b: { hlc: 1, nodeId: 'z' }, sign: 1 },
    { desc: 'lower hlc loses', a: { hlc: 1, nodeId: 'z' }, b: { hlc: 2, nodeId: 'a' }, sign: -1 },
    { desc: 'same hlc: higher node id wins', a: { hlc: 5, nodeId: 'b' }, b: { hlc: 5, nodeId: 'a' }, sign: 1 },
    { desc: 'same hlc: lower node id loses', a: { hlc: 5, nodeId: 'a' }, b: { hlc: 5, nodeId: 'b' }, sign: -1 },
    { desc: 'same write', a: { hlc: 5, nodeId: 'a' }, b: { hlc: 5, nodeId: 'a' }, sign: 0 },
  ];
  for (const { desc, a, b, sign } of cases) {
    it(desc, () => {
      expect(Math.sign(compareVersions(a, b))).to.equal(sign);
      expect(Math.sign(compareVersions(b, a))).to.equal(-sign || 0);
    });
  }
});
