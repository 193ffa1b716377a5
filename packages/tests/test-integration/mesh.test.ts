import { expect } from 'chai';
import type { MeshKvClient } from '@meshkv/client';
import { clientOf, eventually, MESH_URLS, RUN, SERVICE_URL } from './api';

/**
 * Cross-node checks, when MESH_URLS lists the nodes' own URLs: what one node is told, every
 * node ends up holding. Skipped, saying so, without MESH_URLS.
 */
describe('mesh: every node ends up with every write', function () {
  this.timeout(30_000);
  const key = (name: string): string => `${RUN}-mesh-${name}`;
  /** One typed client per node, and one for the service in front of them. */
  const nodes = MESH_URLS.map((url) => clientOf(url));
  const service = clientOf(SERVICE_URL);
  const [first, second] = nodes as [MeshKvClient, MeshKvClient];
  const valuesOf = (k: string): Promise<(string | undefined)[]> => Promise.all(nodes.map((node) => node.get(k)));
  const everywhere = (k: string, v: string | undefined) => async () => (await valuesOf(k)).every((got) => got === v);

  after(async () => {
    await Promise.all([...nodes, service].map((client) => client.close()));
  });

  before(function () {
    if (MESH_URLS.length < 2) {
      process.stdout.write('\n  mesh checks skipped: set MESH_URLS to two or more node URLs to run them\n');
      this.skip();
    }
  });

  it('a write on one node is read on all of them', async () => {
    await first.set(key('a'), '1');
    await eventually(everywhere(key('a'), '1'), 'the write on every node');
  });

  it('/rm on one node removes the key everywhere', async () => {
    await first.set(key('b'), '1', { w: 'all' });
    await second.rm(key('b'));
    await eventually(everywhere(key('b'), undefined), 'the key gone from every node');
  });

  it('conflicting writes on different nodes converge to one value everywhere', async () => {
    await Promise.all(nodes.map((node, i) => node.set(key('c'), `from-${i}`)));
    await eventually(async () => {
      const values = await valuesOf(key('c'));
      return values[0] !== undefined && values.every((v) => v === values[0]);
    }, 'one value on every node');
  });

  it('w=all through the service: the write is already on every node when the answer comes', async () => {
    for (let i = 0; i < 10; i++) {
      await service.set(key(`d${i}`), String(i), { w: 'all' });
      const values = await valuesOf(key(`d${i}`));
      expect(values, `write ${i}`).to.deep.equal(MESH_URLS.map(() => String(i)));
    }
  });

  it('/clear on one node empties every node', async function () {
    if (process.env.INTEGRATION_NO_CLEAR === '1') this.skip();
    await first.set(key('e'), '1', { w: 'all' });
    await second.clear();
    await eventually(async () => {
      const all = await Promise.all(nodes.map((node) => node.all()));
      return all.every((list) => list.length === 0);
    }, 'every node empty');
  });
});
