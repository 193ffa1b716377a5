import { expect } from 'chai';
import { MemoryAdapter } from '../../../src/storage/memory';
import { describeStorageAdapter } from './adapter-compliance';

describeStorageAdapter('memory', () => new MemoryAdapter());
// Tiny chunks put every arena path (new chunk, oversized value, compaction) under the suite.
describeStorageAdapter('memory with 64-byte arena chunks', () => new MemoryAdapter(64));

describe('MemoryAdapter value arena', () => {
  const version = { hlc: 1, nodeId: 'n1' };

  it('keeps values byte for byte across many overwrites and compactions', () => {
    const adapter = new MemoryAdapter(64);
    const expected = new Map<string, string>();
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 20; k++) {
        const value = `${round}:${'✓𤭢'.repeat(k % 4)}:${k}`;
        adapter.set(`key${k}`, { value, ...version });
        expected.set(`key${k}`, value);
      }
    }
    for (const [key, value] of expected) expect(adapter.get(key)?.value).to.equal(value);
    const { live, allocated } = adapter.arenaBytes();
    expect(live).to.equal([...expected.values()].reduce((sum, v) => sum + Buffer.byteLength(JSON.stringify(v)), 0));
    // Without compaction, 50 rounds of overwrites would hold about 50 times the live bytes.
    expect(allocated).to.be.below(live * 3 + 64 * 3);
  });

  it('keeps values UTF-8 alone cannot carry (lone surrogates) and values longer than a chunk', () => {
    const adapter = new MemoryAdapter(64);
    const lone = 'a\uD800b';
    const long = 'x'.repeat(1000);
    adapter.set('lone', { value: lone, ...version });
    adapter.set('long', { value: long, ...version });
    expect(adapter.get('lone')?.value).to.equal(lone);
    expect(adapter.get('long')?.value).to.equal(long);
    adapter.set('lone', { value: 'plain', ...version });
    adapter.set('long', { value: null, ...version });
    expect(adapter.get('lone')?.value).to.equal('plain');
    expect(adapter.get('long')?.value).to.equal(null);
  });

  it('gives the bytes of deleted values back at compaction', () => {
    const adapter = new MemoryAdapter(64);
    for (let k = 0; k < 100; k++) adapter.set(`key${k}`, { value: 'v'.repeat(20), ...version });
    for (let k = 0; k < 99; k++) adapter.delete(`key${k}`);
    adapter.set('key99', { value: 'last', ...version });
    expect(adapter.arenaBytes().live).to.equal(6); // "last" with its quotes
    expect(adapter.arenaBytes().allocated).to.be.at.most(64 * 2);
    expect(adapter.get('key99')?.value).to.equal('last');
  });
});
