import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { AckCounter } from '../../../src/mesh/write-concern';
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
    counter.asked(3);
    counter.refuse('http://a refused it: clock');
    await Promise.resolve();
    expect(outcome, 'two peers may still ack').to.equal('pending');
    counter.refuse('http://b refused it: clock');
    await Promise.resolve();
    expect(outcome).to.be.instanceOf(ApiError);
    expect((outcome as ApiError).toJSON()).to.include({ error: 'WRITE_REFUSED', acked: 1, required: 3, refused: 2 });
    expect((outcome as ApiError).status).to.equal(503);
    expect((outcome as ApiError).message).to.contain('http://a refused it: clock; http://b refused it: clock');
    counter.ack(); // a late ack changes nothing
  });

  it('is acknowledged despite a refusal when enough other peers ack', async () => {
    const counter = new AckCounter(2, 5000, new FakeScheduler());
    counter.refuse('http://a refused it');
    counter.asked(2);
    counter.ack();
    await counter.promise;
  });
});
