import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHARED_NAME_ALIASES, ConfigError, DEFAULTS, loadConfig, parseHostPort } from '../../src/config';

describe('balancer config', () => {
  it('has defaults for everything: Docker discovery of the "database" service', () => {
    const config = loadConfig({});
    expect(config).to.include({
      servicePort: DEFAULTS.SERVICE_PORT,
      groupPort: 8100,
      groupName: 'database',
      dockerApiLocation: '/var/run/docker.sock',
      adminPort: 8081,
      adminBindAddress: '127.0.0.1',
      adminToken: undefined,
      backends: undefined,
      networkName: undefined,
      selfId: undefined,
    });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('reads static backends, IPv6 included', () => {
    const config = loadConfig({ BACKENDS: ' 127.0.0.1:8100, db-2:8101,[::1]:8102 ,', NETWORK_NAME: 'mesh', HOSTNAME: 'abc123' });
    expect(config.backends).to.deep.equal([
      { host: '127.0.0.1', port: 8100 },
      { host: 'db-2', port: 8101 },
      { host: '::1', port: 8102 },
    ]);
    expect(config).to.include({ networkName: 'mesh', selfId: 'abc123' });
  });

  it('reports every problem at once', () => {
    let caught: unknown;
    try {
      loadConfig({ SERVICE_PORT: 'x', BACKENDS: 'nohost,h:0,h:99999', GROUP_NAME: '-bad', LOG_LEVEL: 'loud', CONNECT_TIMEOUT_MS: '0' });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).to.have.length(7);
    expect(problems.join('\n')).to.contain('SERVICE_PORT').and.contain('BACKENDS').and.contain('GROUP_NAME').and.contain('LOG_LEVEL').and.contain('CONNECT_TIMEOUT_MS');
  });

  it("reads its own names first, and the names it shares with the node only when those are unset", () => {
    const shared = { BIND_ADDRESS: '10.0.0.1', LOG_LEVEL: 'debug', HOSTNAME: 'abc123' };
    expect(loadConfig(shared)).to.include({ bindAddress: '10.0.0.1', logLevel: 'debug', selfId: 'abc123' });
    const own = { ...shared, BALANCER_BIND_ADDRESS: '127.0.0.1', BALANCER_LOG_LEVEL: 'warn', BALANCER_CONTAINER_ID: 'def456' };
    expect(loadConfig(own)).to.include({ bindAddress: '127.0.0.1', logLevel: 'warn', selfId: 'def456' });
    expect(() => loadConfig({ BALANCER_LOG_LEVEL: 'loud' })).to.throw(ConfigError, /BALANCER_LOG_LEVEL must be one of/);
    // LOG_FORMAT is one name for both: a .env that asks for readable logs gets them from both.
    expect(loadConfig({}).logFormat).to.equal('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).to.equal('pretty');
    for (const [own, old] of Object.entries(SHARED_NAME_ALIASES)) expect(own).to.equal(`BALANCER_${old === 'HOSTNAME' ? 'CONTAINER_ID' : old}`);
  });

  it('parses host:port strictly', () => {
    expect(parseHostPort('a:1')).to.deep.equal({ host: 'a', port: 1 });
    for (const bad of ['a', ':1', 'a:', 'a:b', 'a b:1', 'a:70000', 'a:0']) expect(parseHostPort(bad), bad).to.equal(undefined);
  });
});

describe('.env.example (balancer part)', () => {
  it('lists every balancer setting with its default', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', '..', '.env.example'), 'utf8');
    const listed = new Map<string, string>();
    for (const match of text.matchAll(/^(?:# )?([A-Z_]+)=(.*)$/gm)) listed.set(match[1] as string, match[2] as string);
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(listed.get(name), `${name} in .env.example`).to.equal(String(value));
    }
    for (const name of ['BACKENDS', 'NETWORK_NAME', 'BALANCER_CONTAINER_ID']) expect(listed.has(name), name).to.equal(true);
  });
});
