import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backupDataFile, StorageOpenError } from '../../src/storage/lmdb';
import { startTestNode, type TestNode } from '../helpers/node';

/** The backup of a running node's LMDB file, and a node started from it (docs/deploy.md). */
describe('backup of a running node, and a node restored from it', function () {
  this.timeout(30_000);
  let dir = '';
  const nodes: TestNode[] = [];
  const start = async (dataDir: string): Promise<TestNode> => {
    const node = await startTestNode({ STORAGE: 'lmdb', DATA_DIR: dataDir, DURABILITY: 'sync' });
    nodes.push(node);
    return node;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-backup-'));
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies what the node held at that moment while it serves; a node started on the copy holds exactly that, under the same node id', async () => {
    const live = await start(path.join(dir, 'live'));
    for (let i = 0; i < 100; i++) expect((await live.get(`/set?k=k${i}&v=v${i}`)).status).to.equal(200);
    expect((await live.get('/rm?k=k5')).status).to.equal(200);
    const target = path.join(dir, 'copy.mdb');
    const result = await backupDataFile(path.join(dir, 'live'), target);
    expect(result).to.include({ target, records: 100 }); // 99 values and a tombstone
    expect(result.bytes).to.be.above(0);
    expect(fs.existsSync(`${target}.partial`)).to.equal(false);
    // The node went on serving; what it took after the copy is not in it.
    expect((await live.get('/set?k=later&v=1')).status).to.equal(200);
    const nodeId = live.node.nodeId;
    await live.close();
    nodes.splice(0);

    fs.mkdirSync(path.join(dir, 'restored'));
    fs.copyFileSync(target, path.join(dir, 'restored', 'meshkv.mdb'));
    const restored = await start(path.join(dir, 'restored'));
    expect(restored.node.nodeId).to.equal(nodeId);
    const all = (await restored.get('/getAll')).json() as { k: string; v: string }[];
    expect(all).to.have.length(99);
    expect(all.find((pair) => pair.k === 'k42')).to.deep.equal({ k: 'k42', v: 'v42' });
    expect((await restored.get('/get?k=k5')).status, 'the delete is kept').to.equal(404);
    expect((await restored.get('/get?k=later')).status).to.equal(404);
  });

  it('refuses a target that exists and a folder with no database, changing nothing', async () => {
    const live = await start(path.join(dir, 'live'));
    await live.get('/set?k=a&v=1');
    const target = path.join(dir, 'taken.mdb');
    fs.writeFileSync(target, 'mine');
    const failure = (promise: Promise<unknown>): Promise<Error> => promise.then(() => new Error('resolved'), (error: Error) => error);
    const taken = await failure(backupDataFile(path.join(dir, 'live'), target));
    expect(taken).to.be.instanceOf(StorageOpenError);
    expect(taken.message).to.include('exists');
    expect(fs.readFileSync(target, 'utf8')).to.equal('mine');
    const none = await failure(backupDataFile(path.join(dir, 'empty'), path.join(dir, 'other.mdb')));
    expect(none.message).to.include('does not exist');
    expect(fs.existsSync(path.join(dir, 'other.mdb'))).to.equal(false);
  });

  it('the command: one JSON line and exit 0; 1 when the copy cannot be made; 2 on a usage error', async () => {
    const live = await start(path.join(dir, 'live'));
    await live.get('/set?k=a&v=1');
    const command = path.join(__dirname, '..', '..', 'src', 'backup.js');
    const run = (args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [command, ...args], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } });
    const made = run([path.join(dir, 'b1.mdb')], { DATA_DIR: path.join(dir, 'live') });
    expect(made.status, made.stderr).to.equal(0);
    expect(JSON.parse(made.stdout)).to.include({ records: 1, target: path.join(dir, 'b1.mdb') });
    expect(run(['--data-dir', path.join(dir, 'live'), path.join(dir, 'b1.mdb')]).status, 'an existing target').to.equal(1);
    expect(run([]).status).to.equal(2);
    expect(run(['--bogus', 'x']).status).to.equal(2);
    const slot = run(['x.mdb'], { DATA_DIR: dir, DATA_SLOT: 'auto' });
    expect(slot.status).to.equal(2);
    expect(slot.stderr).to.include('--data-dir');
  });
});
