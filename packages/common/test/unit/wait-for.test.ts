import { expect } from 'chai';
import { waitFor } from '../../src/wait-for';

/** The error a promise rejects with (a failure if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('waitFor', () => {
  it('resolves once the condition holds, sync or async', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, 1000, 'three calls', { intervalMs: 1 });
    expect(calls).to.equal(3);
    await waitFor(async () => Promise.resolve(true), 1000, 'an async truth');
  });

  it('rejects after the deadline, naming what it waited for', async () => {
    const error = await rejection(waitFor(() => false, 20, 'the impossible', { intervalMs: 5 }));
    expect(String(error)).to.match(/timed out after 20 ms waiting for the impossible$/);
  });

  it('fails at once when the condition throws, unless told to retry, then names the last error', async () => {
    const failing = (): boolean => {
      throw new Error('not up yet');
    };
    expect(String(await rejection(waitFor(failing, 10_000, 'a thrower')))).to.equal('Error: not up yet');
    const retried = await rejection(waitFor(failing, 20, 'a thrower', { retryErrors: true, intervalMs: 5 }));
    expect(String(retried)).to.match(/timed out after 20 ms waiting for a thrower \(last: not up yet\)/);
  });
});
