import { expect } from 'chai';
import { LOG_LEVELS, silentLogger } from '../../src/logger';

describe('logger', () => {
  it('offers pino levels and a silent logger for tests', () => {
    expect(LOG_LEVELS).to.include('info').and.include('silent');
    expect(silentLogger().isLevelEnabled('fatal')).to.equal(false);
  });
});
