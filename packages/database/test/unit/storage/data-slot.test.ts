import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claimDataSlot, existingSlots, type SlotClaim } from '../../../src/storage/data-slot';
import { StorageOpenError } from '../../../src/storage/lmdb';
import { waitFor } from '../../helpers/http';

const MODULE = path.join(__dirname, '..', '..', '..', 'src', 'storage', 'data-slot.js');
// The smallest timings proper-lockfile takes: a lock is stale 2 s after its last refresh.
const FAST = { staleMs: 2000, updateMs: 1000 };

describe('data slots (DATA_SLOT)', () => {
  let root: string;
  const claims: SlotClaim[] = [];
  const lost: Error[] = [];
  const claim = async (want: 'auto' | number = 'auto'): Promise<SlotClaim> => {
    const made = await claimDataSlot(root, want, { ...FAST, onLost: (error) => lost.push(error) });
    claims.push(made);
    return made;
  };
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-slots-'));
    lost.length = 0;
  });
  afterEach(async () => {
    for (const made of claims.splice(0)) await made.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('gives nodes that start together slots of their own, and makes the folders', async () => {
    const made = await Promise.all([claim(), claim(), claim(), claim()]);
    expect(made.map((c) => c.slot).sort()).to.deep.equal([1, 2, 3, 4]);
    for (const c of made) expect(c.directory).to.equal(path.join(root, `node-${c.slot}`));
    expect(existingSlots(root)).to.deep.equal([1, 2, 3, 4]);
  });

  it('gives a released slot, with its data, to the next node rather than making a new one', async () => {
    const first = await claim();
    const second = await claim();
    fs.writeFileSync(path.join(first.directory, 'kept'), 'data');
    await first.release();
    await first.release(); // idempotent
    const again = await claim();
    expect(again.slot).to.equal(first.slot);
    expect(fs.readFileSync(path.join(again.directory, 'kept'), 'utf8')).to.equal('data');
    expect(second.slot).to.equal(2);
  });

  it('refuses a numbered slot a running node holds, naming the fix; takes a free one', async () => {
    await claim(2);
    const refused = await claim(2).catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(StorageOpenError);
    expect((refused as Error).message).to.match(/DATA_SLOT=2: .*node-2 is held by a running node.*DATA_SLOT=auto/);
    expect((await claim(5)).slot).to.equal(5);
    expect((await claim()).slot).to.equal(1);
  });

  it('waits for the lock of a killed node to turn stale and takes its slot, not a new one', async () => {
    const child = spawn(process.execPath, [
      '-e',
      `require(${JSON.stringify(MODULE)}).claimDataSlot(${JSON.stringify(root)}, 'auto', { staleMs: 2000, updateMs: 1000, onLost: () => {} }).then((c) => { console.log('slot ' + c.slot); setInterval(() => {}, 1000); })`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await waitFor(() => out.includes('slot 1'), 10000, 'the child to hold slot 1');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    } finally {
      child.kill('SIGKILL');
    }
    expect(fs.existsSync(path.join(root, 'node-1.lock')), 'a killed node leaves its lock').to.equal(true);
    const taken = await claim();
    expect(taken.slot).to.equal(1);
    expect(existingSlots(root)).to.deep.equal([1]);
  });

  it('makes a new slot once it has seen the other locks refreshed', async () => {
    const first = await claim();
    const next = await claim();
    expect(next.slot).to.equal(2);
    expect(first.slot).to.equal(1);
    expect(lost, 'the first node keeps its lock').to.deep.equal([]);
  });

  it('tells the node when its lock is taken from it', async () => {
    await claim();
    fs.rmSync(path.join(root, 'node-1.lock'), { recursive: true });
    await waitFor(() => lost.length > 0, 10000, 'the lost lock to be noticed');
    expect(lost[0]?.message).to.be.a('string');
  });

  it('says which folder it cannot make', async () => {
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, '');
    const refused = await claimDataSlot(path.join(file, 'below'), 'auto', { ...FAST, onLost: () => undefined }).catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(StorageOpenError);
    expect((refused as Error).message).to.include('cannot be made');
  });
});
