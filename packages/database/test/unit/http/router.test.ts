import { expect } from 'chai';
import { Router } from '../../../src/http/router';

describe('Router', () => {
  const noop = (): void => undefined;

  it('finds a route by its exact path', () => {
    const router = new Router();
    router.register('/a', noop);
    expect(router.lookup('/a')?.handler).to.equal(noop);
    expect(router.lookup('/a/')).to.equal(undefined);
    expect(router.lookup('/A')).to.equal(undefined);
  });

  it('defaults to GET and HEAD, and builds the Allow header', () => {
    const router = new Router();
    router.register('/r', noop);
    router.register('/w', noop, { methods: ['get'] });
    router.register('/m', noop, { methods: ['POST'] });
    expect([...(router.lookup('/r')?.methods ?? [])]).to.deep.equal(['GET', 'HEAD']);
    expect(router.lookup('/r')?.allow).to.equal('GET, HEAD');
    expect(router.lookup('/w')?.allow).to.equal('GET');
    expect(router.lookup('/m')?.methods.has('POST')).to.equal(true);
  });

  it('adds and removes routes at runtime', () => {
    const router = new Router();
    router.register('/x', noop);
    expect(router.paths).to.deep.equal(['/x']);
    expect(router.unregister('/x')).to.equal(true);
    expect(router.unregister('/x')).to.equal(false);
    expect(router.lookup('/x')).to.equal(undefined);
    router.register('/x', noop);
    expect(router.paths).to.deep.equal(['/x']);
  });

  it('refuses a path registered twice, a relative path and an empty method list', () => {
    const router = new Router();
    router.register('/x', noop);
    expect(() => router.register('/x', noop)).to.throw(/already registered/);
    expect(() => router.register('x', noop)).to.throw(/starts with/);
    expect(() => router.register('/y', noop, { methods: [] })).to.throw(/at least one method/);
  });

  it('finds a prefix route for every path under it, after the exact routes; the index shows its pattern', () => {
    const router = new Router();
    const kv = (): void => undefined;
    router.register('/kv/', kv, { prefix: true, pattern: '/kv/{key}' });
    router.register('/kv/exact', noop);
    router.register('/kv/deeper/', noop, { prefix: true });
    expect(router.lookup('/kv/a/b')?.handler).to.equal(kv);
    expect(router.lookup('/kv/')?.handler).to.equal(kv);
    expect(router.lookup('/kv/exact')?.handler).to.equal(noop);
    expect(router.lookup('/kv/deeper/x')?.handler, 'the longest prefix').to.equal(noop);
    expect(router.lookup('/kv')).to.equal(undefined);
    expect(router.lookup('/kvx')).to.equal(undefined);
    expect(router.lookup('/kv/')?.pattern).to.equal('/kv/{key}');
    expect(router.lookup('/kv/exact')?.pattern).to.equal('/kv/exact');
    expect(router.unregister('/kv/')).to.equal(true);
    expect(router.lookup('/kv/a')).to.equal(undefined);
    expect(() => router.register('/p', noop, { prefix: true })).to.throw(/ends with/);
  });
});
