import { expect } from 'chai';
import { table } from '../../src/table';

describe('table', () => {
  it('pads every column to its widest cell, header included, and trims the line ends', () => {
    expect(table(['ID', 'STATE'], [['a1', 'alive'], ['b', 'down']])).to.equal('ID  STATE\na1  alive\nb   down');
  });

  it('takes rows shorter than the header', () => {
    expect(table(['A', 'B'], [['x']])).to.equal('A  B\nx');
  });
});
