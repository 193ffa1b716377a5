import { expect } from 'chai';
import type { Balancer } from '../../src/balancer';
import { adoptWithOnread, descriptorOf, internalsStatus, probeInternals, setInternals } from '../../src/proxy/node-internals';
import { BytePump, nativePump } from '../../src/proxy/pump';
import { get, startBackend, startBalancer } from '../helpers/net';

describe('choosing who moves the bytes (PUMP) at start', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A balancer in front of one backend; it has answered a request through it. */
  const proxying = async (pump: string, loadPump?: () => BytePump | Error): Promise<Balancer> => {
    const backend = await startBackend('b1');
    cleanups.push(() => backend.close());
    const balancer = await startBalancer({ BACKENDS: `127.0.0.1:${backend.port}`, PUMP: pump }, undefined, loadPump === undefined ? {} : { loadPump });
    cleanups.push(() => balancer.stop());
    expect(await get(balancer.address?.port as number)).to.equal('b1');
    return balancer;
  };
  const notBuilt = (): Error => new Error('the native pump is not built');

  it('auto: uses the native pump when the addon loads', async function () {
    const pump = nativePump();
    if (pump instanceof Error) {
      if (process.env.CI !== undefined) throw pump; // CI builds it
      this.skip();
    }
    const balancer = await proxying('auto');
    expect(balancer.pumpUnavailable).to.equal(undefined);
  });

  it('auto: moves bytes in JavaScript when the addon is missing, saying why', async () => {
    const balancer = await proxying('auto', notBuilt);
    expect(balancer.pumpUnavailable?.message).to.equal('the native pump is not built');
  });

  it('native: refuses to start without the addon, naming the reason', async () => {
    let error: unknown;
    try {
      await startBalancer({ BACKENDS: '127.0.0.1:1', PUMP: 'native' }, undefined, { loadPump: notBuilt });
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.match(/PUMP=native, but the native pump is not built/);
  });

  it('javascript: never loads the addon', async () => {
    let loads = 0;
    const balancer = await proxying('javascript', () => {
      loads++;
      return notBuilt();
    });
    expect(loads).to.equal(0);
    expect(balancer.pumpUnavailable?.message).to.equal('PUMP=javascript');
  });

  it('auto: falls back to the public API and JavaScript when the Node.js internals are not as expected', async () => {
    setInternals(false, 'as if another Node.js');
    cleanups.push(() => Promise.resolve(setInternals(true)));
    let loads = 0;
    const balancer = await proxying('auto', () => {
      loads++;
      return notBuilt();
    });
    expect(loads).to.equal(0);
    expect(balancer.pumpUnavailable?.message).to.match(/socket internals it needs are not as expected/);
    expect(internalsStatus().enabled).to.equal(false);
  });
});

describe('Node.js internals (node-internals.ts)', () => {
  it('are as expected on this Node.js: a loopback probe reads through onread', async () => {
    expect(await probeInternals()).to.deep.equal({ ok: true });
  });

  it('are not touched once turned off', async () => {
    setInternals(false, 'test');
    try {
      expect(internalsStatus()).to.deep.equal({ enabled: false, reason: 'test' });
      const probe = await probeInternals();
      expect(probe.ok).to.equal(false);
      expect(probe.reason).to.match(/no _handle/);
      const { Socket } = await import('node:net');
      const socket = new Socket();
      expect(descriptorOf(socket)).to.equal(undefined);
      expect(adoptWithOnread(socket, Buffer.alloc(1), () => true)).to.equal(undefined);
      socket.destroy();
    } finally {
      setInternals(true);
    }
    expect(internalsStatus()).to.deep.equal({ enabled: true, reason: undefined });
  });
});
