import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DEFAULTS, loadConfig, parseHostPort } from '../../src/config';

describe('balancer config', () => {
  it('has defaults for everything: Docker discovery of the "database" service', () => {
    const config = loadConfig({});
    expect(config).to.include({
      servicePort: DEFAULTS.SERVICE_PORT,
      groupPort: 8100,
      groupName: 'database',
      dockerApiLocation: '/var/run/docker.sock',
      adminPort: 8081,
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
      if (name === 'BIND_ADDRESS' || name === 'LOG_LEVEL') continue; // shared with the node, listed once
      expect(listed.get(name), `${name} in .env.example`).to.equal(String(value));
    }
    for (const name of ['BACKENDS', 'NETWORK_NAME']) expect(listed.has(name), name).to.equal(true);
  });
});
