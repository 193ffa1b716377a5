import { expect } from 'chai';
import { call, eventually, MESH_URLS, q, RUN, SERVICE_URL } from './api';

/**
 * Cross-node checks, when MESH_URLS lists the nodes' own URLs: what one node is told, every
 * node ends up holding. Skipped, saying so, without MESH_URLS.
 */
describe('mesh: every node ends up with every write', function () {
  this.timeout(30_000);
  const key = (name: string): string => `${RUN}-mesh-${name}`;
  const valueOn = async (url: string, k: string): Promise<string | undefined> => {
    const answer = await call(`/get?k=${q(k)}`, 'GET', url);
    return answer.status === 200 ? (answer.json() as string) : undefined;
  };
  const everywhere = (k: string, v: string | undefined) => async () =>
    (await Promise.all(MESH_URLS.map((url) => valueOn(url, k)))).every((got) => got === v);

  before(function () {
    if (MESH_URLS.length < 2) {
      process.stdout.write('\n  mesh checks skipped: set MESH_URLS to two or more node URLs to run them\n');
      this.skip();
    }
  });

  it('a write on one node is read on all of them', async () => {
    await call(`/set?k=${q(key('a'))}&v=1`, 'GET', MESH_URLS[0]);
    await eventually(everywhere(key('a'), '1'), 'the write on every node');
  });

  it('/rm on one node removes the key everywhere', async () => {
    await call(`/set?k=${q(key('b'))}&v=1&w=all`, 'GET', MESH_URLS[0]);
    await call(`/rm?k=${q(key('b'))}`, 'GET', MESH_URLS[1]);
    await eventually(everywhere(key('b'), undefined), 'the key gone from every node');
  });

  it('conflicting writes on different nodes converge to one value everywhere', async () => {
    await Promise.all(MESH_URLS.map((url, i) => call(`/set?k=${q(key('c'))}&v=from-${i}`, 'GET', url)));
    await eventually(async () => {
      const values = await Promise.all(MESH_URLS.map((url) => valueOn(url, key('c'))));
      return values[0] !== undefined && values.every((v) => v === values[0]);
    }, 'one value on every node');
  });

  it('w=all through the service: the write is already on every node when the answer comes', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await call(`/set?k=${q(key(`d${i}`))}&v=${i}&w=all`, 'GET', SERVICE_URL)).status).to.equal(200);
      const values = await Promise.all(MESH_URLS.map((url) => valueOn(url, key(`d${i}`))));
      expect(values, `write ${i}`).to.deep.equal(MESH_URLS.map(() => String(i)));
    }
  });

  it('/clear on one node empties every node', async function () {
    if (process.env.INTEGRATION_NO_CLEAR === '1') this.skip();
    await call(`/set?k=${q(key('e'))}&v=1&w=all`, 'GET', MESH_URLS[0]);
    await call('/clear', 'GET', MESH_URLS[1]);
    await eventually(async () => {
      const all = await Promise.all(MESH_URLS.map(async (url) => (await call('/getAll', 'GET', url)).json() as unknown[]));
      return all.every((list) => list.length === 0);
    }, 'every node empty');
  });
});
