import { expect } from 'chai';
import { ConfigError, SettingsReader } from '../../src/settings';

describe('SettingsReader', () => {
  it('reads whole numbers in range, text, optional values and choices, trimmed', () => {
    const read = new SettingsReader({ PORT: ' 8100 ', NAME: ' db ', MODE: 'FAST', BLANK: '  ' });
    expect(read.int('PORT', 1, 0, 65535)).to.equal(8100);
    expect(read.int('MISSING', 7, 0, 10)).to.equal(7);
    expect(read.text('NAME', 'x')).to.equal('db');
    expect(read.text('BLANK', 'fallback')).to.equal('fallback');
    expect(read.optional('BLANK')).to.equal(undefined);
    expect(read.oneOf('MODE', ['fast', 'slow'] as const, 'slow')).to.equal('fast');
    expect(read.problems).to.deep.equal([]);
    expect(() => read.check()).not.to.throw();
  });

  it('reads the first of several names that is set (a new name before its old alias)', () => {
    const read = new SettingsReader({ OLD_PORT: '1', NEW_PORT: '2' });
    expect(read.int(['NEW_PORT', 'OLD_PORT'], 0, 0, 9)).to.equal(2);
    expect(read.int(['UNSET', 'OLD_PORT'], 0, 0, 9)).to.equal(1);
    expect(read.raw('UNSET', 'OLD_PORT')).to.deep.equal({ name: 'OLD_PORT', value: '1' });
  });

  it('collects every problem, naming the variable and the allowed range, then throws them at once', () => {
    const read = new SettingsReader({ PORT: 'eighty', SIZE: '99', MODE: 'odd', OLD: 'x' });
    expect(read.int('PORT', 1, 0, 65535)).to.equal(1);
    expect(read.int('SIZE', 5, 1, 10)).to.equal(5);
    expect(read.oneOf('MODE', ['a', 'b'], 'a')).to.equal('a');
    expect(read.int(['NEW', 'OLD'], 3, 0, 9)).to.equal(3);
    read.problem('A must be below B');
    expect(() => read.check())
      .to.throw(ConfigError)
      .with.property('problems')
      .that.deep.equals([
        'PORT must be a whole number from 0 to 65535 (got "eighty")',
        'SIZE must be a whole number from 1 to 10 (got "99")',
        'MODE must be one of a, b (got "odd")',
        'OLD must be a whole number from 0 to 9 (got "x")',
        'A must be below B',
      ]);
  });
});
