import { expect } from 'chai';
import { type ContainerSummary, containersToBackends, type MappingOptions } from '../../src/discovery/containers';

const options: MappingOptions = { groupName: 'database', groupPort: 8100, project: undefined, networkName: undefined, ownNetworks: [] };

function container(name: string, overrides: Partial<ContainerSummary> = {}, labels: Record<string, string> | null = {}): ContainerSummary {
  return {
    Id: `id-${name}`,
    Names: [`/${name}`],
    Labels: labels === null ? null : { 'com.docker.compose.service': 'database', 'com.docker.compose.project': 'meshkv', ...labels },
    State: 'running',
    Status: 'Up 5 minutes',
    NetworkSettings: { Networks: { meshkv_default: { IPAddress: `10.0.0.${name.length}` } } },
    ...overrides,
  };
}

describe('containersToBackends', () => {
  const table: { what: string; containers: ContainerSummary[]; options?: Partial<MappingOptions>; backends: string[]; skipped: string[] }[] = [
    { what: 'a running group container', containers: [container('db1')], backends: ['db1=10.0.0.3:8100'], skipped: [] },
    {
      what: 'no labels at all',
      containers: [container('plain', {}, null)],
      backends: [],
      skipped: ['plain: no compose service label'],
    },
    {
      what: 'another service',
      containers: [container('web', {}, { 'com.docker.compose.service': 'web' })],
      backends: [],
      skipped: ['web: service "web" is not "database"'],
    },
    {
      what: 'another project when the own project is known',
      containers: [container('db1'), container('other', {}, { 'com.docker.compose.project': 'elsewhere' })],
      options: { project: 'meshkv' },
      backends: ['db1=10.0.0.3:8100'],
      skipped: ['other: project "elsewhere" is not "meshkv"'],
    },
    {
      what: 'a one-off `compose run` container of the group',
      containers: [container('meshkv-database-run-1a2b', {}, { 'com.docker.compose.oneoff': 'True' })],
      backends: ['meshkv-database-run-1a2b=10.0.0.24:8100'],
      skipped: [],
    },
    {
      what: 'paused, exited, and unhealthy containers',
      containers: [
        container('paused', { State: 'paused', Status: 'Up 1 minute (Paused)' }),
        container('exited', { State: 'exited' }),
        container('sick', { Status: 'Up 2 minutes (unhealthy)' }),
        container('starting', { Status: 'Up 1 second (health: starting)' }),
      ],
      backends: ['starting=10.0.0.8:8100'],
      skipped: ['paused: state is paused', 'exited: state is exited', 'sick: unhealthy'],
    },
    {
      what: 'no network, or no IP on it',
      containers: [
        container('nonet', { NetworkSettings: { Networks: {} } }),
        container('nullnet', { NetworkSettings: null }),
        container('noip', { NetworkSettings: { Networks: { meshkv_default: { IPAddress: '' } } } }),
      ],
      backends: [],
      skipped: [
        'nonet: no network shared with the balancer (has none)',
        'nullnet: no network shared with the balancer (has none)',
        'noip: no IP address on network "meshkv_default"',
      ],
    },
    {
      what: 'several networks: the one shared with the balancer',
      containers: [container('multi', { NetworkSettings: { Networks: { a_net: { IPAddress: '10.1.0.2' }, backend: { IPAddress: '10.2.0.2' } } } })],
      options: { ownNetworks: ['backend', 'frontend'] },
      backends: ['multi=10.2.0.2:8100'],
      skipped: [],
    },
    {
      what: 'several networks, none shared',
      containers: [container('apart', { NetworkSettings: { Networks: { a_net: { IPAddress: '10.1.0.2' } } } })],
      options: { ownNetworks: ['backend'] },
      backends: [],
      skipped: ['apart: no network shared with the balancer (has a_net)'],
    },
    {
      what: 'NETWORK_NAME, given bare or with the project prefix',
      containers: [
        container('named', { NetworkSettings: { Networks: { meshkv_mesh: { IPAddress: '10.3.0.2' }, other: { IPAddress: '10.4.0.2' } } } }),
        container('exact', { NetworkSettings: { Networks: { mesh: { IPAddress: '10.3.0.3' } } } }),
        container('offnet', { NetworkSettings: { Networks: { other: { IPAddress: '10.4.0.3' } } } }),
      ],
      options: { networkName: 'mesh', project: 'meshkv' },
      backends: ['exact=10.3.0.3:8100', 'named=10.3.0.2:8100'],
      skipped: ['offnet: not on network "mesh"'],
    },
    {
      what: 'outside Docker with several networks: the first by name',
      containers: [container('two', { NetworkSettings: { Networks: { zeta: { IPAddress: '10.9.0.2' }, alpha: { IPAddress: '10.8.0.2' } } } })],
      backends: ['two=10.8.0.2:8100'],
      skipped: [],
    },
    {
      what: 'a container without a name',
      containers: [{ ...container('x'), Names: null }],
      backends: ['id-x=10.0.0.1:8100'],
      skipped: [],
    },
  ];

  for (const row of table) {
    it(row.what, () => {
      const { backends, skipped } = containersToBackends(row.containers, { ...options, ...row.options });
      expect(backends.map((b) => `${b.name}=${b.host}:${b.port}`)).to.deep.equal(row.backends);
      expect(skipped.map((s) => `${s.name}: ${s.reason}`)).to.deep.equal(row.skipped);
    });
  }

  it('orders backends by name, whatever the listing order', () => {
    const { backends } = containersToBackends([container('db3'), container('db1'), container('db2')], options);
    expect(backends.map((b) => b.name)).to.deep.equal(['db1', 'db2', 'db3']);
    expect(backends[0]?.id).to.equal('id-db1');
  });
});
