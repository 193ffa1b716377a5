import { expect } from 'chai';
import type { Backend } from '../../src/discovery/discovery';
import { DockerDiscovery, dockerConnection } from '../../src/discovery/docker';
import { silentLogger } from '@meshkv/common';
import { FakeDocker, groupContainer } from '../helpers/fake-docker';
import { waitFor } from '../helpers/net';

describe('DockerDiscovery (against a fake Docker API on a unix socket)', () => {
  let fake: FakeDocker;
  let discovery: DockerDiscovery;
  let lists: (readonly Backend[])[];
  const names = (): string[] => (lists[lists.length - 1] ?? []).map((b) => `${b.name}=${b.host}`);

  beforeEach(async () => {
    fake = new FakeDocker();
    await fake.start();
    lists = [];
  });
  afterEach(async () => {
    await discovery.stop();
    await fake.stop();
  });
  const start = (selfId?: string): void => {
    discovery = new DockerDiscovery(
      { dockerApiLocation: fake.socketPath, groupName: 'database', groupPort: 8100, networkName: undefined, debounceMs: 20, selfId, resyncMs: 60_000 },
      silentLogger(),
    );
    discovery.start((backends) => lists.push(backends));
  };

  it('lists the group at start and again after events, once per burst', async () => {
    fake.containers = [groupContainer('db1', '10.0.0.2')];
    start();
    await waitFor(() => lists.length === 1 && fake.eventStreams === 1, 2000, 'the first list');
    expect(names()).to.deep.equal(['db1=10.0.0.2']);
    fake.containers = [groupContainer('db1', '10.0.0.2'), groupContainer('db2', '10.0.0.3')];
    const before = fake.lists;
    for (let i = 0; i < 5; i++) fake.event('start');
    await waitFor(() => lists.length === 2, 2000, 'the list after the events');
    expect(names()).to.deep.equal(['db1=10.0.0.2', 'db2=10.0.0.3']);
    expect(fake.lists - before).to.equal(1);
    expect(discovery.status).to.include({ connected: true, errors: 0 });
  });

  it('ignores events of other services and garbage, without crashing', async () => {
    fake.containers = [groupContainer('db1', '10.0.0.2')];
    start();
    await waitFor(() => lists.length === 1 && fake.eventStreams === 1, 2000, 'the first list');
    const before = fake.lists;
    fake.event('start', 'web');
    fake.send('this is not json\n{"half":');
    fake.send('"line"}\n\n');
    fake.send(`${'x'.repeat(1_100_000)}`);
    fake.event('die');
    await waitFor(() => fake.lists > before, 2000, 'a list after the die event');
    expect(fake.lists - before).to.equal(1);
    expect(discovery.status.connected).to.equal(true);
  });

  it('reconnects when the event stream is dropped, and lists again', async () => {
    fake.containers = [groupContainer('db1', '10.0.0.2')];
    start();
    await waitFor(() => lists.length === 1 && fake.eventStreams === 1, 2000, 'the first list');
    fake.containers = [];
    fake.dropStreams();
    await waitFor(() => fake.eventStreams === 1 && lists.length === 2, 5000, 'a new stream and list');
    expect(names()).to.deep.equal([]);
    expect(discovery.status.errors).to.be.at.least(1);
    fake.containers = [groupContainer('db3', '10.0.0.4')];
    fake.event('start');
    await waitFor(() => lists.length === 3, 2000, 'events flowing again');
    expect(names()).to.deep.equal(['db3=10.0.0.4']);
  });

  it('keeps the last backends while listings fail, and retries', async () => {
    fake.containers = [groupContainer('db1', '10.0.0.2')];
    start();
    await waitFor(() => lists.length === 1 && fake.eventStreams === 1, 2000, 'the first list');
    fake.failLists = 2;
    fake.containers = [groupContainer('db2', '10.0.0.3')];
    fake.event('stop');
    await waitFor(() => lists.length === 2, 10_000, 'a list once the API works again');
    expect(names()).to.deep.equal(['db2=10.0.0.3']);
    expect(discovery.status.errors).to.be.at.least(1);
  });

  it('follows its own project and networks when it runs in a container', async () => {
    fake.self = { id: 'balancer-1', project: 'meshkv', networks: ['meshkv_default'] };
    fake.containers = [
      groupContainer('db1', '10.0.0.2'),
      groupContainer('other', '10.0.0.3', { Labels: { 'com.docker.compose.service': 'database', 'com.docker.compose.project': 'elsewhere' } }),
      groupContainer('apart', '10.0.0.4', { NetworkSettings: { Networks: { isolated: { IPAddress: '10.7.0.2' } } } }),
    ];
    start('balancer-1');
    await waitFor(() => lists.length === 1, 2000, 'the first list');
    expect(names()).to.deep.equal(['db1=10.0.0.2']);
    expect(discovery.status.skipped.map((s) => s.name)).to.deep.equal(['other', 'apart']);
  });

  it('retries with backoff while the Docker API is not there at all', async () => {
    await fake.stop();
    start();
    await waitFor(() => discovery.status.errors >= 2, 5000, 'two failed attempts');
    expect(discovery.status.connected).to.equal(false);
    expect(lists).to.deep.equal([]);
    fake = new FakeDocker();
  });

  it('reads the API location as a socket path or a URL', () => {
    expect(dockerConnection('/var/run/docker.sock')).to.deep.equal({ socketPath: '/var/run/docker.sock' });
    expect(dockerConnection('unix:///run/docker.sock')).to.deep.equal({ socketPath: '/run/docker.sock' });
    expect(dockerConnection('tcp://docker:2375')).to.deep.equal({ host: 'docker', port: 2375, protocol: 'http' });
    expect(dockerConnection('https://docker:2376')).to.deep.equal({ host: 'docker', port: 2376, protocol: 'https' });
    discovery = new DockerDiscovery(
      { dockerApiLocation: fake.socketPath, groupName: 'database', groupPort: 8100, networkName: undefined, debounceMs: 20, selfId: undefined },
      silentLogger(),
    );
  });
});
