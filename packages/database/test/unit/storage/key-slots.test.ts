import { expect } from 'chai';
import fc from 'fast-check';
import { KeySlots } from '../../../src/storage/key-slots';

/** Slots handed out as the memory adapter does: the lowest freed one first, else the next new one. */
class Allocator {
  private next = 0;
  private readonly freed: number[] = [];

  take(): number {
    return this.freed.pop() ?? this.next++;
  }

  give(slot: number): void {
    this.freed.push(slot);
  }
}

describe('KeySlots', () => {
  it('finds each key in its slot, forgets a deleted one, and lists the keys in slot order', () => {
    const slots = new KeySlots();
    slots.add('b', 0);
    slots.add('a', 1);
    slots.add('', 2);
    expect([slots.get('a'), slots.get('b'), slots.get(''), slots.get('c')]).to.deep.equal([1, 0, 2, undefined]);
    expect(slots.delete('b')).to.equal(0);
    expect(slots.delete('b')).to.equal(undefined);
    expect(slots.get('b')).to.equal(undefined);
    slots.add('c', 0);
    expect([...slots.entries()]).to.deep.equal([
      ['c', 0],
      ['a', 1],
      ['', 2],
    ]);
    expect([...slots.slots()]).to.deep.equal([0, 1, 2]);
    expect(slots.size).to.equal(3);
    slots.clear();
    expect([slots.size, slots.get('a'), [...slots.entries()].length]).to.deep.equal([0, undefined, 0]);
  });

  it('an iteration visits each key held throughout once, whatever is added and deleted meanwhile, and ends at a clear', () => {
    const slots = new KeySlots(2);
    for (let i = 0; i < 100; i++) slots.add(`k${i}`, i);
    const seen: string[] = [];
    let next = 100;
    for (const [key] of slots.entries()) {
      seen.push(key);
      // Every step: one key deleted (its slot freed), one added.
      if (seen.length % 2 === 0) slots.delete(`k${seen.length + 1}`);
      else slots.add(`new-${next}`, next++);
    }
    const kept = Array.from({ length: 100 }, (_, i) => `k${i}`).filter((key) => slots.get(key) !== undefined);
    expect(seen.filter((key) => key.startsWith('k') && kept.includes(key))).to.deep.equal(kept);
    const before = [...slots.entries()].length;
    let steps = 0;
    for (const entry of slots.entries()) {
      expect(entry[0]).to.be.a('string');
      if (++steps === 3) slots.clear();
    }
    expect([steps, before > 3]).to.deep.equal([3, true]);
  });

  it('keeps 100,000 keys through the table doubling, and every other one deleted (deletes move the probe chains back)', () => {
    const slots = new KeySlots(2);
    for (let i = 0; i < 100_000; i++) slots.add(`key-${i}`, i);
    for (let i = 0; i < 100_000; i += 2) expect(slots.delete(`key-${i}`)).to.equal(i);
    expect(slots.size).to.equal(50_000);
    for (let i = 0; i < 100_000; i++) expect(slots.get(`key-${i}`)).to.equal(i % 2 === 0 ? undefined : i);
  });

  it('answers as a Map would, whatever the adds and deletes (a model: Map of key to slot)', () => {
    // Few distinct keys and a table of 2 places at first: probe chains that wrap around its end.
    const key = fc.oneof(fc.constantFrom('', 'a', 'b', 'ab', 'ba', 'é', '\ud800'), fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), key), { maxLength: 300 }), (steps) => {
        const slots = new KeySlots(2);
        const model = new Map<string, number>();
        const allocator = new Allocator();
        for (const [add, k] of steps) {
          if (add && !model.has(k)) {
            const slot = allocator.take();
            slots.add(k, slot);
            model.set(k, slot);
          } else if (!add) {
            const slot = slots.delete(k);
            expect(slot).to.equal(model.get(k));
            if (slot !== undefined) allocator.give(slot);
            model.delete(k);
          }
          expect(slots.size).to.equal(model.size);
        }
        for (const [k, slot] of model) expect(slots.get(k)).to.equal(slot);
        expect(new Map(slots.entries())).to.deep.equal(model);
        const order = [...slots.slots()];
        expect(order).to.deep.equal([...order].sort((x, y) => x - y));
      }),
      { numRuns: 300 },
    );
  });
});
