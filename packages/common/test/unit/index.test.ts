import { expect } from 'chai';
import * as common from '../../src/index';

describe('@meshkv/common', () => {
  it('exports the shared pieces', () => {
    for (const name of ['backoffDelay', 'listen', 'createLogger', 'silentLogger', 'configOrExit', 'runService', 'ConfigError', 'readEnvironment', 'SettingsReader', 'waitFor', 'bodyDigest', 'parseMeshSignature', 'signatureMatches', 'signMeshRequest']) {
      expect(common, name).to.have.property(name).that.is.a('function');
    }
  });

  it('reads the process environment (and .env, which never overrides it)', () => {
    expect(common.readEnvironment()).to.equal(process.env);
  });

  it('jitters with Math.random when no source of randomness is given', () => {
    const delay = common.backoffDelay(3, 100, 1000);
    expect(delay).to.be.within(200, 400);
  });
});
