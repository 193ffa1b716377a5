import { expect } from 'chai';
import { ApiError, ERROR_CATALOGUE, type ErrorCode } from '../../src/errors';

describe('error catalogue', () => {
  const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

  it('gives every code an error status and a sentence', () => {
    for (const code of codes) {
      const entry = ERROR_CATALOGUE[code];
      expect(entry.status, code).to.be.within(400, 599);
      expect(entry.message, code).to.match(/^[A-Z].*\.$/);
      expect(code).to.match(/^[A-Z][A-Z0-9_]+$/);
    }
  });

  it('keeps the nkvd codes and their statuses', () => {
    expect(ERROR_CATALOGUE.MISSING_KEY_PARAM.status).to.equal(400);
    expect(ERROR_CATALOGUE.EMPTY_KEY.status).to.equal(400);
    expect(ERROR_CATALOGUE.MAXIMUM_KEY_LENGTH_REACHED.status).to.equal(400);
    expect(ERROR_CATALOGUE.MISSING_VALUE_PARAM.status).to.equal(400);
    expect(ERROR_CATALOGUE.MAXIMUM_VALUE_LENGTH_REACHED.status).to.equal(400);
    expect(ERROR_CATALOGUE.MISSING_RECORD.status).to.equal(404);
  });

  it('renders an ApiError as {error, message, ...details}', () => {
    const error = new ApiError('MAXIMUM_KEY_LENGTH_REACHED', 'too long', { maxKeyLength: 3 });
    expect(JSON.parse(JSON.stringify(error))).to.deep.equal({
      error: 'MAXIMUM_KEY_LENGTH_REACHED',
      message: 'too long',
      maxKeyLength: 3,
    });
    expect(error.status).to.equal(400);
    expect(new ApiError('NOT_FOUND').message).to.equal(ERROR_CATALOGUE.NOT_FOUND.message);
  });
});
