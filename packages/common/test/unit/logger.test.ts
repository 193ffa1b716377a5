import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { LOG_FORMATS, LOG_LEVELS, silentLogger } from '../../src/logger';

/** What a process that logs one line with `format` writes on stdout. */
function logged(format: string): string {
  const logger = path.resolve(__dirname, '..', '..', 'src', 'logger');
  const script = `require(${JSON.stringify(logger)}).createLogger('info', 'svc', {}, ${JSON.stringify(format)}).info({ answer: 42 }, 'hello')`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout;
}

describe('logger', () => {
  it('offers pino levels and a silent logger for tests', () => {
    expect(LOG_LEVELS).to.include('info').and.include('silent');
    expect(silentLogger().isLevelEnabled('fatal')).to.equal(false);
  });

  it('writes one JSON object a line, or with LOG_FORMAT=pretty one readable line', () => {
    expect(LOG_FORMATS).to.deep.equal(['json', 'pretty']);
    expect(JSON.parse(logged('json'))).to.include({ service: 'svc', answer: 42, msg: 'hello', level: 30 });
    expect(logged('pretty')).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: svc: hello \{"answer":42\}\n$/);
  });
});
