import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { AckCounter, requiredNodes } from '../../../src/mesh/write-concern';
import type { Ack } from '../../../src/mesh/outbox';
import { FakeScheduler } from '../../helpers/fake-scheduler';

describe('AckCounter', () => {
  it('settles once the required nodes hold the write', async () => {
    const counter = new AckCounter(3, 5000, new FakeScheduler());
    counter.ack();
    expect(counter.count).to.equal(2);
    counter.ack();
    await counter.promise;
    counter.ack();
    expect(counter.count).to.equal(4);
  });

  it('gives up with 504 WRITE_TIMEOUT, saying how many acked', async () => {
    const scheduler = new FakeScheduler();
    const counter = new AckCounter(3, 20, scheduler);
    counter.ack();
    let settled = false;
    const outcome = counter.promise.then(
      () => (settled = true),
      (e: unknown) => {
        settled = true;
        return e;
      },
    );
    await scheduler.advance(19);
    expect(settled).to.equal(false);
    await scheduler.advance(1);
    expect(settled).to.equal(true);
    const error = await outcome;
    expect(error).to.be.instanceOf(ApiError);
    expect((error as ApiError).toJSON()).to.include({ error: 'WRITE_TIMEOUT', acked: 2, required: 3 });
    expect((error as ApiError).status).to.equal(504);
    counter.ack(); // a late ack changes nothing
  });

  it('fails at once with 503 WRITE_REFUSED once refusals leave too few peers, naming why; not before', async () => {
    const counter = new AckCounter(3, 5000, new FakeScheduler());
    let outcome: unknown = 'pending';
    counter.promise.then(
      () => (outcome = 'acknowledged'),
      (error: unknown) => (outcome = error),
    );
    const [a, b] = ['http://a', 'http://b', 'http://c'].map((url) => counter.sendTo(url)) as [Ack, Ack];
    counter.sent();
    a.refuse('http://a refused it: clock');
    await Promise.resolve();
    expect(outcome, 'two peers may still ack').to.equal('pending');
    b.refuse('http://b refused it: clock');
    await Promise.resolve();
    expect(outcome).to.be.instanceOf(ApiError);
    expect((outcome as ApiError).toJSON()).to.include({ error: 'WRITE_REFUSED', acked: 1, required: 3, refused: 2 });
    expect((outcome as ApiError).status).to.equal(503);
    expect((outcome as ApiError).message).to.contain('http://a refused it: clock; http://b refused it: clock');
    counter.ack(); // a late ack changes nothing
  });

  it('is acknowledged despite a refusal when enough other peers ack', async () => {
    const counter = new AckCounter(2, 5000, new FakeScheduler());
    const [a, b] = [counter.sendTo('http://a'), counter.sendTo('http://b')];
    a.refuse('http://a refused it');
    counter.sent();
    b.ack();
    await counter.promise;
  });

  it('names the members that did not acknowledge in the 504, as described', async () => {
    const scheduler = new FakeScheduler();
    const describe = (url: string): string => (url === 'http://c' ? `${url} (down)` : `${url} (degraded: replication failing)`);
    const counter = new AckCounter(4, 100, scheduler, ['http://a', 'http://b', 'http://c'], describe);
    counter.sendTo('http://a').ack();
    counter.sendTo('http://b');
    counter.sent();
    const outcome = counter.promise.catch((error: unknown) => error);
    await scheduler.advance(100);
    const error = (await outcome) as ApiError;
    expect(error.toJSON()).to.include({ error: 'WRITE_TIMEOUT', acked: 2, required: 4 });
    expect(error.message).to.contain('Not acknowledged by: http://b (degraded: replication failing), http://c (down).');
  });
});

describe('requiredNodes', () => {
  it('is every member for all, more than half for majority, the number otherwise', () => {
    const table: [Parameters<typeof requiredNodes>[0], number, number][] = [
      ['all', 1, 1],
      ['all', 3, 3],
      ['majority', 1, 1],
      ['majority', 2, 2],
      ['majority', 3, 2],
      ['majority', 4, 3],
      ['majority', 5, 3],
      [2, 5, 2],
      [7, 3, 7],
    ];
    for (const [w, members, required] of table) expect(requiredNodes(w, members), `w=${w} of ${members}`).to.equal(required);
  });
});
