import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

/** `npm start`'s checks before it builds anything (scripts/start-local.js). */
describe('npm start refuses what cannot work, before building, naming the setting', () => {
  const script = path.resolve(__dirname, '..', '..', '..', '..', '..', 'scripts', 'start-local.js');
  const start = (env: Record<string, string>): { status: number | null; output: string } => {
    const run = spawnSync(process.execPath, [script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  };

  it('a port setting that is not a port', () => {
    const run = start({ MESHKV_START_PORT: 'abc' });
    expect(run.status).to.equal(1);
    expect(run.output).to.contain('MESHKV_START_PORT must be a port number').and.contain('got "abc"');
    expect(run.output).not.to.contain('MeshKV is running');
  });

  it('a port in use (a second npm start): says so and names both port settings', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as net.AddressInfo).port;
      // The held port is node-1's: a port next to it may be anyone's while other tests run.
      const run = start({ MESHKV_START_PORT: String(port), MESHKV_BALANCER_PORT: '1' });
      expect(run.status).to.equal(1);
      expect(run.output).to.match(new RegExp(`port ${port} \\(for node-1\\) is in use`));
      expect(run.output).to.contain('MESHKV_START_PORT').and.contain('MESHKV_BALANCER_PORT');
      expect(run.output).not.to.contain('MeshKV is running');
    } finally {
      holder.close();
    }
  });
});
