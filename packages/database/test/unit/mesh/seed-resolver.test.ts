import { expect } from 'chai';
import { silentLogger } from '@meshkv/common';
import { type Lookup, MIN_LOOKUP_INTERVAL_MS, parseSeed, SeedResolver, type SeedSpec } from '../../../src/mesh/seed-resolver';

/** A lookup whose answers the test sets (a name missing from `names` fails as a DNS server says ENOTFOUND). */
function fakeLookup(): Lookup & { names: Map<string, string[]>; srvs: Map<string, { name: string; port: number }[]>; asked: number } {
  const names = new Map<string, string[]>();
  const srvs = new Map<string, { name: string; port: number }[]>();
  const fail = (name: string): Error => Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  const lookup = {
    names,
    srvs,
    asked: 0,
    addresses: (host: string) => {
      lookup.asked++;
      const found = names.get(host);
      return found === undefined ? Promise.reject(fail(host)) : Promise.resolve(found);
    },
    srv: (name: string) => {
      lookup.asked++;
      const found = srvs.get(name);
      return found === undefined ? Promise.reject(fail(name)) : Promise.resolve(found);
    },
  };
  return lookup;
}

describe('parseSeed', () => {
  const cases: { desc: string; text: string; scheme?: 'http' | 'https'; seed: SeedSpec | RegExp }[] = [
    { desc: 'a URL', text: 'http://db-1:8100', seed: { kind: 'url', url: 'http://db-1:8100' } },
    { desc: 'host:port, of the scheme', text: 'db-1:8100', scheme: 'https', seed: { kind: 'url', url: 'https://db-1:8100' } },
    { desc: 'a DNS name and a port', text: 'dns://tasks.database:8100', seed: { kind: 'dns', host: 'tasks.database', port: 8100, text: 'dns://tasks.database:8100' } },
    { desc: 'an SRV name', text: 'dns+srv://_http._tcp.meshkv.default.svc.cluster.local', seed: { kind: 'srv', name: '_http._tcp.meshkv.default.svc.cluster.local', text: 'dns+srv://_http._tcp.meshkv.default.svc.cluster.local' } },
    { desc: 'a DNS name without a port', text: 'dns://tasks.database', seed: /dns:\/\/name:port/ },
    { desc: 'a DNS port out of range', text: 'dns://db:70000', seed: /1 to 65535/ },
    { desc: 'an SRV name with a port', text: 'dns+srv://_http._tcp.x:80', seed: /dns\+srv:\/\/name/ },
    { desc: 'another scheme', text: 'ftp://db:21', seed: /http:\/\/ URLs, host:port, dns:\/\/name:port or dns\+srv:\/\/name/ },
    { desc: 'http where the nodes serve TLS', text: 'http://db:8100', scheme: 'https', seed: /must list https:\/\/ URLs/ },
  ];
  for (const { desc, text, scheme, seed } of cases) {
    it(desc, () => {
      const parsed = parseSeed(text, scheme ?? 'http');
      if (seed instanceof RegExp) expect(parsed).to.be.a('string').and.match(seed);
      else expect(parsed).to.deep.equal(seed);
    });
  }
});

describe('SeedResolver', () => {
  const specs = (...texts: string[]): SeedSpec[] => texts.map((text) => parseSeed(text, 'http') as SeedSpec);

  it('gives the URLs as they are, and the nodes a DNS name stands for once looked up, each on its port', async () => {
    const lookup = fakeLookup();
    lookup.names.set('tasks.database', ['10.0.0.3', '10.0.0.2', 'fd00::4']);
    const resolver = new SeedResolver(specs('http://lb:8080', 'dns://tasks.database:8100'), 'http', lookup, silentLogger(), () => 0);
    expect(resolver.dynamic).to.equal(true);
    expect(resolver.current()).to.deep.equal(['http://lb:8080']);
    await resolver.refresh();
    expect(resolver.current()).to.deep.equal(['http://lb:8080', 'http://10.0.0.2:8100', 'http://10.0.0.3:8100', 'http://[fd00::4]:8100']);
  });

  it('looks SRV targets up the same way, each with its own port; a target it cannot look up stays a name', async () => {
    const lookup = fakeLookup();
    lookup.srvs.set('_http._tcp.meshkv', [
      { name: 'meshkv-0.meshkv.', port: 8100 },
      { name: 'meshkv-1.meshkv', port: 8101 },
      { name: '10.1.1.1', port: 8102 },
    ]);
    lookup.names.set('meshkv-0.meshkv', ['10.0.0.10']);
    const resolver = new SeedResolver(specs('dns+srv://_http._tcp.meshkv'), 'https', lookup, silentLogger(), () => 0);
    await resolver.refresh();
    expect(resolver.current()).to.deep.equal(['https://10.0.0.10:8100', 'https://10.1.1.1:8102', 'https://meshkv-1.meshkv:8101']);
  });

  it('keeps what a name gave last when a lookup fails, says why, and takes the new answer once it comes', async () => {
    const lookup = fakeLookup();
    let now = 0;
    lookup.names.set('db', ['10.0.0.2']);
    const resolver = new SeedResolver(specs('dns://db:8100'), 'http', lookup, silentLogger(), () => now);
    await resolver.refresh();
    lookup.names.delete('db');
    now += MIN_LOOKUP_INTERVAL_MS;
    await resolver.refresh();
    expect(resolver.current()).to.deep.equal(['http://10.0.0.2:8100']);
    expect([...resolver.problemsNow()]).to.deep.equal([['dns://db:8100', 'ENOTFOUND']]);
    lookup.names.set('db', ['10.0.0.2', '10.0.0.5']);
    now += MIN_LOOKUP_INTERVAL_MS;
    await resolver.refresh();
    expect(resolver.current()).to.deep.equal(['http://10.0.0.2:8100', 'http://10.0.0.5:8100']);
    expect(resolver.problemsNow().size).to.equal(0);
  });

  it('looks a name up at most every MIN_LOOKUP_INTERVAL_MS, and never for URLs alone', async () => {
    const lookup = fakeLookup();
    let now = 0;
    lookup.names.set('db', ['10.0.0.2']);
    const resolver = new SeedResolver(specs('dns://db:8100'), 'http', lookup, silentLogger(), () => now);
    await Promise.all([resolver.refresh(), resolver.refresh()]);
    now += MIN_LOOKUP_INTERVAL_MS - 1;
    await resolver.refresh();
    expect(lookup.asked).to.equal(1);
    now += 1;
    await resolver.refresh();
    expect(lookup.asked).to.equal(2);
    const fixed = new SeedResolver(specs('http://a:1'), 'http', lookup, silentLogger(), () => now);
    expect(fixed.dynamic).to.equal(false);
    await fixed.refresh();
    expect(lookup.asked).to.equal(2);
  });
});
