import { expect } from 'chai';
import { realScheduler } from '../../../src/clock/scheduler';

/** The immediates queued before this one have run once it resolves (no timer involved). */
const afterQueuedImmediates = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('realScheduler', () => {
  it('runs a task of 0 ms once the current turn is done, without the 1 ms of a timeout', async () => {
    const ran: string[] = [];
    realScheduler.after(0, () => ran.push('after 0'));
    ran.push('same turn');
    await afterQueuedImmediates();
    expect(ran).to.deep.equal(['same turn', 'after 0']);
  });

  it('cancels a task of 0 ms', async () => {
    let ran = false;
    realScheduler.after(0, () => (ran = true)).cancel();
    await afterQueuedImmediates();
    expect(ran).to.equal(false);
  });
});
