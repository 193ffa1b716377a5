import { expect } from 'chai';
import * as net from 'node:net';
import { listen } from '../../src/listen';

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
});
