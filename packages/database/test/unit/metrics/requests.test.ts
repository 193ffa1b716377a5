import { expect } from 'chai';
import { Router } from '../../../src/http/router';
import { RequestStats } from '../../../src/metrics/requests';

describe('RequestStats', () => {
  const router = new Router();
  router.register('/get', () => undefined, { access: 'read' });
  router.register('/set', () => undefined, { access: 'write' });
  router.register('/kv/', () => undefined, { prefix: true, pattern: '/kv/{key}', methods: ['GET', 'PUT'], access: (method) => (method === 'PUT' ? 'write' : 'read') });
  router.register('/status', () => undefined, { access: 'node' });

  it('keeps one series per route pattern, method and status, whatever the path sent', () => {
    const stats = new RequestStats();
    stats.observe(router.lookup('/kv/a'), 'PUT', 200, 0.001);
    stats.observe(router.lookup('/kv/b'), 'PUT', 200, 0.002);
    stats.observe(router.lookup('/kv/b'), 'GET', 404, 0.002);
    stats.observe(undefined, 'BREW', 404, 0.0001);
    const series = [...stats.series()].map(({ labels, buckets }) => ({ ...labels, count: buckets.count }));
    expect(series).to.have.deep.members([
      { route: '/kv/{key}', method: 'PUT', status: 200, count: 2 },
      { route: '/kv/{key}', method: 'GET', status: 404, count: 1 },
      { route: 'none', method: 'other', status: 404, count: 1 },
    ]);
  });

  it('totals the requests of routes that read and that write data, not the others', () => {
    const stats = new RequestStats();
    stats.observe(router.lookup('/get'), 'GET', 200, 0.001);
    stats.observe(router.lookup('/get'), 'GET', 404, 0.001);
    stats.observe(router.lookup('/set'), 'GET', 200, 0.001);
    stats.observe(router.lookup('/kv/x'), 'PUT', 200, 0.001);
    stats.observe(router.lookup('/kv/x'), 'GET', 200, 0.001);
    stats.observe(router.lookup('/status'), 'GET', 200, 0.001);
    stats.observe(undefined, 'GET', 404, 0.001);
    expect(stats.totals()).to.deep.equal({ reads: 3, writes: 2 });
  });
});
