import { expect } from 'chai';
import {
  type ContainerSummary,
  containersToBackends,
  type MappingOptions,
  type TaskMappingOptions,
  type TaskSummary,
  tasksToBackends,
} from '../../src/discovery/containers';

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

describe('tasksToBackends (Swarm)', () => {
  const swarm: TaskMappingOptions = { serviceName: 'meshkv_database', groupPort: 8100, networkName: undefined, stack: 'meshkv', ownNetworks: ['ingress', 'meshkv_mesh'] };
  const task = (slot: number, overrides: Partial<TaskSummary> = {}): TaskSummary => ({
    ID: `task${slot}`,
    Slot: slot,
    DesiredState: 'running',
    Status: { State: 'running' },
    NetworksAttachments: [{ Network: { Spec: { Name: 'meshkv_mesh' } }, Addresses: [`10.0.3.${slot}/24`] }],
    ...overrides,
  });
  const table: { what: string; tasks: TaskSummary[]; options?: Partial<TaskMappingOptions>; backends: string[]; skipped: string[] }[] = [
    { what: 'running tasks, named by slot, ordered', tasks: [task(2), task(1)], backends: ['meshkv_database.1=10.0.3.1:8100', 'meshkv_database.2=10.0.3.2:8100'], skipped: [] },
    {
      what: 'a task still starting (health check not passed yet), one shut down, one failed',
      tasks: [task(1, { Status: { State: 'starting' } }), task(2, { DesiredState: 'shutdown' }), task(3, { Status: { State: 'failed', Err: 'exit 1' } })],
      backends: [],
      skipped: ['meshkv_database.1: state is starting', 'meshkv_database.2: desired state is shutdown', 'meshkv_database.3: state is failed'],
    },
    {
      what: 'a task on the routing mesh too: the stack network, never ingress',
      tasks: [task(1, { NetworksAttachments: [{ Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.9/24'] }, { Network: { Spec: { Name: 'meshkv_mesh' } }, Addresses: ['10.0.3.1/24'] }] })],
      backends: ['meshkv_database.1=10.0.3.1:8100'],
      skipped: [],
    },
    {
      what: 'no network shared with the balancer, or no address on it',
      tasks: [task(1, { NetworksAttachments: [{ Network: { Spec: { Name: 'other_net' } }, Addresses: ['10.5.0.2/24'] }] }), task(2, { NetworksAttachments: [{ Network: { Spec: { Name: 'meshkv_mesh' } }, Addresses: [] }] }), task(3, { NetworksAttachments: null })],
      backends: [],
      skipped: [
        'meshkv_database.1: no network shared with the balancer (has other_net)',
        'meshkv_database.2: no address on network "meshkv_mesh"',
        'meshkv_database.3: no network shared with the balancer (has none)',
      ],
    },
    {
      what: 'NETWORK_NAME given bare: the stack prefix is tried',
      tasks: [task(1, { NetworksAttachments: [{ Network: { Spec: { Name: 'meshkv_front' } }, Addresses: ['10.6.0.2/24'] }, { Network: { Spec: { Name: 'meshkv_mesh' } }, Addresses: ['10.0.3.1/24'] }] })],
      options: { networkName: 'front' },
      backends: ['meshkv_database.1=10.6.0.2:8100'],
      skipped: [],
    },
    {
      what: 'a global service\'s task (no slot) is named by its node; outside Docker the first network but ingress',
      tasks: [{ ...task(0, { NetworksAttachments: [{ Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.4/24'] }, { Network: { Spec: { Name: 'z_net' } }, Addresses: ['10.7.0.2/24'] }] }), Slot: undefined, NodeID: 'node7' }],
      options: { ownNetworks: [] },
      backends: ['meshkv_database.node7=10.7.0.2:8100'],
      skipped: [],
    },
  ];
  for (const row of table) {
    it(row.what, () => {
      const { backends, skipped } = tasksToBackends(row.tasks, { ...swarm, ...row.options });
      expect(backends.map((b) => `${b.name}=${b.host}:${b.port}`)).to.deep.equal(row.backends);
      expect(skipped.map((s) => `${s.name}: ${s.reason}`)).to.deep.equal(row.skipped);
    });
  }
});
