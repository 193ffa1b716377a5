import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NODE_FLAGS } from '@meshkv/database';
import { NodeProcess } from '../../src/cluster/node-process';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');

describe('the node process flags (NODE_FLAGS)', function () {
  this.timeout(30_000);

  it('are the ones the Dockerfile starts the node with', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const commands = dockerfile.split('\n').filter((line) => line.startsWith('CMD ["node"') && line.includes('packages/database/dist/main.js'));
    expect(commands).to.have.length(1);
    expect(JSON.parse((commands[0] as string).slice('CMD '.length))).to.deep.equal(['node', ...NODE_FLAGS, 'packages/database/dist/main.js']);
  });

  it('reach the nodes that the tests and the bench start (their command line)', async () => {
    const node = await NodeProcess.start('flags', {});
    try {
      const argv = fs.readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, 1 + NODE_FLAGS.length)).to.deep.equal([...NODE_FLAGS]);
      expect((await node.get('/healthcheck')).status).to.equal(200);
    } finally {
      await node.stop();
    }
  });
});
