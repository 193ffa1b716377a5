import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { AckCounter, readWriteConcern } from '../../../src/mesh/write-concern';

const defaults = { w: 1 as const, timeoutMs: 1000 };
const query = (params: Record<string, string>): ReadonlyMap<string, string> => new Map(Object.entries(params));

describe('write concern', () => {
  it('reads w and wtimeout, falling back to the node defaults', () => {
    expect(readWriteConcern(query({}), defaults)).to.equal(defaults);
    expect(readWriteConcern(query({ w: '3' }), defaults)).to.deep.equal({ w: 3, timeoutMs: 1000 });
    expect(readWriteConcern(query({ w: 'ALL', wtimeout: '250' }), defaults)).to.deep.equal({ w: 'all', timeoutMs: 250 });
    expect(readWriteConcern(query({ wtimeout: '3600000' }), defaults)).to.deep.equal({ w: 1, timeoutMs: 3_600_000 });
  });

  for (const [name, value] of [
    ['w', '0'],
    ['w', '-1'],
    ['w', 'majority'],
    ['w', '1.5'],
    ['w', ''],
    ['wtimeout', '0'],
    ['wtimeout', '3600001'],
    ['wtimeout', '1e3'],
    ['wtimeout', ''],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)} with 400 INVALID_WRITE_CONCERN`, () => {
      let caught: unknown;
      try {
        readWriteConcern(query({ [name]: value }), defaults);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ApiError);
      expect((caught as ApiError).code).to.equal('INVALID_WRITE_CONCERN');
      expect((caught as ApiError).status).to.equal(400);
    });
  }

  it('settles once the required nodes hold the write', async () => {
    const counter = new AckCounter(3, 5000);
    counter.ack();
    expect(counter.count).to.equal(2);
    counter.ack();
    await counter.promise;
    counter.ack();
    expect(counter.count).to.equal(4);
  });

  it('gives up with 504 WRITE_TIMEOUT, saying how many acked', async () => {
    const counter = new AckCounter(3, 20);
    counter.ack();
    const error = await counter.promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(ApiError);
    expect((error as ApiError).toJSON()).to.include({ error: 'WRITE_TIMEOUT', acked: 2, required: 3 });
    expect((error as ApiError).status).to.equal(504);
    counter.ack(); // a late ack changes nothing
  });
});
