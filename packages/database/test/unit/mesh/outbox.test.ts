import { expect } from 'chai';
import { type Ack, type Batch, Outbox, type OutboxOptions, Outgoing, type Refusals, wireBytesAtMost } from '../../../src/mesh/outbox';
import type { WireRecord } from '../../../src/record/codec';
import type { StoredRecord } from '../../../src/record/record';
import { FakeScheduler } from '../../helpers/fake-scheduler';

const rec = (value: string | null, hlc: number, nodeId = 'n1'): StoredRecord => ({ value, hlc, nodeId });
const put = (outbox: Outbox, key: string, record: StoredRecord, ack?: Ack): void => outbox.enqueue(new Outgoing(key, record), ack);
const recordsOf = (batch: Batch): WireRecord[] => batch.writes.map((write) => write.wire);

function counter(): { ack(): void; refuse(why: string): void; count: number; refused: string[] } {
  return {
    count: 0,
    refused: [],
    ack() {
      this.count++;
    },
    refuse(why: string) {
      this.refused.push(why);
    },
  };
}

describe('Outbox', () => {
  const outboxes: Outbox[] = [];
  let scheduler = new FakeScheduler();
  beforeEach(() => {
    scheduler = new FakeScheduler();
  });
  const waitFor = (condition: () => boolean, maxMs: number, what: string): Promise<number> => scheduler.until(condition, maxMs, what, 1);
  const make = (send: (batch: Batch) => Promise<Refusals | undefined | void>, options: Partial<OutboxOptions> = {}): Outbox => {
    const outbox = new Outbox(async (batch) => (await send(batch)) ?? undefined, {
      batchSize: 100,
      batchDelayMs: 0,
      retryMaxMs: 20,
      max: 1000,
      onOverflow: () => undefined,
      random: () => 0.5,
      scheduler,
      ...options,
    });
    outboxes.push(outbox);
    return outbox;
  };
  afterEach(() => outboxes.splice(0).forEach((outbox) => outbox.close()));

  it('sends the newest version of each key once, with the acks of the versions it replaced', async () => {
    const batches: Batch[] = [];
    const outbox = make((batch) => {
      batches.push(batch);
      return Promise.resolve();
    });
    const first = counter();
    const second = counter();
    put(outbox, 'a', rec('1', 1), first);
    put(outbox, 'a', rec('2', 2), second);
    put(outbox, 'a', rec('old', 0));
    put(outbox, 'b', rec(null, 3));
    await waitFor(() => second.count === 1, 2000, 'the ack');
    expect(batches.map((batch) => ({ records: recordsOf(batch), clear: batch.clear }))).to.deep.equal([{ records: [['a', '2', 2, 'n1'], ['b', null, 3, 'n1']], clear: undefined }]);
    expect(first.count).to.equal(1);
    expect(outbox.depth).to.equal(0);
  });

  it('never acks a record the peer refused, tells its acks why, and does not send it again', async () => {
    const batches: Batch[] = [];
    const outbox = make((batch) => {
      batches.push(batch);
      return Promise.resolve({ keys: new Map([['bad', 'http://p refused it: clock']]), clear: 'http://p refused the clear' });
    });
    const good = counter();
    const bad = counter();
    const clear = counter();
    put(outbox, 'good', rec('1', 1), good);
    put(outbox, 'bad', rec('2', 2), bad);
    outbox.enqueueClear({ hlc: 3, nodeId: 'n1' }, clear);
    await waitFor(() => good.count === 1, 2000, 'the ack');
    await scheduler.advance(100);
    expect([bad.count, bad.refused]).to.deep.equal([0, ['http://p refused it: clock']]);
    expect([clear.count, clear.refused]).to.deep.equal([0, ['http://p refused the clear']]);
    expect(batches).to.have.length(1);
    expect(outbox.depth).to.equal(0);
  });

  it('splits into batches of batchSize, one request at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const outbox = make(
      async (batch) => {
        inFlight++;
        most = Math.max(most, inFlight);
        sizes.push(batch.writes.length);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
      },
      { batchSize: 10 },
    );
    for (let i = 0; i < 35; i++) put(outbox, `k${i}`, rec('v', i));
    await waitFor(() => sizes.reduce((a, b) => a + b, 0) === 35, 2000, 'every record sent');
    expect(sizes).to.deep.equal([10, 10, 10, 5]);
    expect(most).to.equal(1);
  });

  it('shares one encoding of a write between the outboxes it goes to', async () => {
    const sent: Batch[] = [];
    const send = (batch: Batch): Promise<void> => {
      sent.push(batch);
      return Promise.resolve();
    };
    const write = new Outgoing('k', rec('v', 1));
    make(send).enqueue(write);
    make(send).enqueue(write);
    await waitFor(() => sent.length === 2, 100, 'both batches');
    const [first, second] = sent.map((batch) => batch.writes[0] as Outgoing);
    expect(first).to.equal(second);
    expect(first?.json).to.equal('["k","v",1,"n1"]');
  });

  it('cuts a batch short of maxBytes, counting 6 bytes a UTF-16 unit; a record alone goes whatever its size', async () => {
    const sizes: number[] = [];
    const outbox = make(
      (batch) => {
        sizes.push(batch.writes.length);
        for (const wire of recordsOf(batch)) expect(wireBytesAtMost(wire[0], { value: wire[1], hlc: wire[2], nodeId: wire[3] })).to.be.at.least(6 * (wire[1] ?? '').length);
        return Promise.resolve();
      },
      { batchSize: 100, maxBytes: 10_000 },
    );
    // Each record: 6 × (2 + 1000 + 2) + 64 = 6,088 bytes at most: one a request.
    for (let i = 0; i < 3; i++) put(outbox, `k${i}`, rec('x'.repeat(1000), i));
    put(outbox, 'big', rec('x'.repeat(5000), 9));
    for (let i = 0; i < 4; i++) put(outbox, `s${i}`, rec('x', 10 + i));
    await waitFor(() => sizes.reduce((a, b) => a + b, 0) === 8, 2000, 'every record sent');
    expect(sizes).to.deep.equal([1, 1, 1, 1, 4]);
  });

  it('retries a failed batch with backoff, keeping newer versions that arrived meanwhile', async () => {
    const batches: Batch[] = [];
    let failures = 0;
    const errors: number[] = [];
    const outbox = make(
      (batch) => {
        batches.push(batch);
        if (failures++ < 2) {
          put(outbox, 'a', rec('newer', 10 + failures));
          return Promise.reject(new Error('peer away'));
        }
        return Promise.resolve();
      },
      { onError: (_error, count) => errors.push(count) },
    );
    const ack = counter();
    put(outbox, 'a', rec('1', 1), ack);
    put(outbox, 'b', rec('2', 2));
    await waitFor(() => ack.count === 1, 2000, 'the ack after retries');
    expect(errors).to.deep.equal([1, 2]);
    expect(outbox.retrying).to.equal(false);
    const last = batches[batches.length - 1] as Batch;
    expect(recordsOf(last)).to.deep.include.members([
      ['a', 'newer', 12, 'n1'],
      ['b', '2', 2, 'n1'],
    ]);
  });

  it('sends only the newest clear, acking every clear it covers', async () => {
    const batches: Batch[] = [];
    let fail = true;
    const outbox = make((batch) => {
      batches.push(batch);
      if (fail) {
        fail = false;
        return Promise.reject(new Error('once'));
      }
      return Promise.resolve();
    });
    const first = counter();
    const second = counter();
    outbox.enqueueClear({ hlc: 5, nodeId: 'n1' }, first);
    outbox.enqueueClear({ hlc: 4, nodeId: 'n9' }, second);
    await waitFor(() => first.count === 1 && second.count === 1, 2000, 'both acks');
    expect(batches.map((b) => b.clear)).to.deep.equal([{ hlc: 5, nodeId: 'n1' }, { hlc: 5, nodeId: 'n1' }]);
  });

  it('drops everything past max and reports the overflow', async () => {
    let overflows = 0;
    let release: () => void = () => undefined;
    const outbox = make(() => new Promise<void>((resolve) => (release = resolve)), {
      max: 5,
      onOverflow: () => overflows++,
    });
    put(outbox, 'first', rec('v', 0));
    await waitFor(() => outbox.depth === 0, 2000, 'the first batch in flight');
    for (let i = 0; i < 6; i++) put(outbox, `k${i}`, rec('v', i));
    expect(overflows).to.equal(1);
    expect(outbox.depth).to.equal(0);
    release();
  });

  it('sends nothing once closed', async () => {
    const batches: Batch[] = [];
    const outbox = make((batch) => {
      batches.push(batch);
      return Promise.resolve();
    }, { batchDelayMs: 5 });
    put(outbox, 'a', rec('1', 1));
    outbox.close();
    put(outbox, 'b', rec('1', 1));
    outbox.enqueueClear({ hlc: 1, nodeId: 'n' });
    await scheduler.advance(100);
    expect(outbox.depth).to.equal(0);
    expect(batches).to.deep.equal([]);
  });
});
