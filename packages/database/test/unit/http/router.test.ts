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
});
