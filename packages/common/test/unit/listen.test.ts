import { expect } from 'chai';
import * as net from 'node:net';
import { freePort, listen } from '../../src/listen';

describe('listen', () => {
  it('resolves with the address, and rejects with the error of a taken port', async () => {
    const first = net.createServer();
    const second = net.createServer();
    try {
      const address = await listen(first, 0, '127.0.0.1');
      expect(address.port).to.be.greaterThan(0);
      let error: unknown;
      try {
        await listen(second, address.port, '127.0.0.1');
      } catch (caught) {
        error = caught;
      }
      expect((error as NodeJS.ErrnoException).code).to.equal('EADDRINUSE');
    } finally {
      first.close();
      second.close();
    }
  });

  it('freePort: a port nothing listens on, that a server can take', async () => {
    const port = await freePort();
    expect(port).to.be.greaterThan(0);
    const server = net.createServer();
    try {
      expect((await listen(server, port, '127.0.0.1')).port).to.equal(port);
    } finally {
      server.close();
    }
  });
});
