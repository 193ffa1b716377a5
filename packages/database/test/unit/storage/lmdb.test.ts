import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LmdbAdapter, StorageOpenError } from '../../../src/storage/lmdb';
import { describeStorageAdapter } from './adapter-compliance';

const folders: string[] = [];
const folder = (): string => {
  const made = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-lmdb-'));
  folders.push(made);
  return made;
};
after(() => {
  for (const made of folders.splice(0)) fs.rmSync(made, { recursive: true, force: true });
});

for (const durability of ['sync', 'batch', 'none'] as const) {
  describeStorageAdapter(`lmdb (${durability})`, () => LmdbAdapter.open({ directory: folder(), durability, batchIntervalMs: 20 }));
}

describe('LmdbAdapter on disk', () => {
  it('keeps records, tombstones and metadata across a close and an open', async () => {
    const directory = folder();
    const first = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    first.set('a', { value: 'one', hlc: 5, nodeId: 'n1' });
    first.set('', { value: 'empty key', hlc: 6, nodeId: 'n1' });
    first.set('lone \uD800', { value: 'x', hlc: 7, nodeId: 'n2' });
    first.set('gone', { value: null, hlc: 8, nodeId: 'n1' });
    first.set('removed', { value: 'r', hlc: 9, nodeId: 'n1' });
    first.delete('removed');
    first.setMeta('nodeId', 'abc');
    await first.flush();
    await first.close();
    const second = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    expect(second.size).to.equal(4);
    expect(second.get('a')).to.deep.equal({ value: 'one', hlc: 5, nodeId: 'n1' });
    expect(second.getJson('')).to.equal('"empty key"');
    expect(second.get('lone \uD800')?.value).to.equal('x');
    expect(second.get('lone \uDC00')).to.equal(undefined);
    expect(second.head('gone')).to.deep.equal({ hlc: 8, nodeId: 'n1', tombstone: true });
    expect(second.get('removed')).to.equal(undefined);
    expect(second.getMeta('nodeId')).to.equal('abc');
    await second.close();
  });

  it('a clear followed at once by writes keeps only the writes, before and after the commit', async () => {
    const directory = folder();
    const adapter = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    for (let i = 0; i < 100; i++) adapter.set(`old-${i}`, { value: 'v', hlc: i + 1, nodeId: 'n' });
    await adapter.flush();
    adapter.set('older', { value: 'v', hlc: 1, nodeId: 'n' });
    adapter.clear();
    adapter.set('new', { value: 'w', hlc: 200, nodeId: 'n' });
    expect([...adapter.entries()].map(([key]) => key)).to.deep.equal(['new']);
    await adapter.flush();
    expect([...adapter.entries()].map(([key]) => key)).to.deep.equal(['new']);
    await adapter.close();
    const reopened = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    expect([...reopened.entries()].map(([key]) => key)).to.deep.equal(['new']);
    expect(reopened.size).to.equal(1);
    await reopened.close();
  });

  describe('refuses a data folder it cannot use, changing nothing', () => {
    it('a file where the folder should be', () => {
      const file = path.join(folder(), 'not-a-folder');
      fs.writeFileSync(file, 'hello');
      expect(() => LmdbAdapter.open({ directory: file, durability: 'sync', batchIntervalMs: 20 })).to.throw(StorageOpenError, /is not a folder/);
      expect(fs.readFileSync(file, 'utf8')).to.equal('hello');
    });
    it('a corrupt database file', () => {
      const directory = folder();
      const garbage = Buffer.alloc(64 * 1024, 0x5a);
      fs.writeFileSync(path.join(directory, 'meshkv.mdb'), garbage);
      expect(() => LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 })).to.throw(StorageOpenError, /cannot be read as a MeshKV database/);
      expect(fs.readFileSync(path.join(directory, 'meshkv.mdb')).equals(garbage)).to.equal(true);
    });
    it('an LMDB database made by something else', async () => {
      const directory = folder();
      const file = path.join(directory, 'meshkv.mdb');
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the same module the adapter loads
      const { open } = require('lmdb') as typeof import('lmdb');
      const foreign = open({ path: file, noSubdir: true });
      foreign.putSync('their-key', 'their-value');
      await foreign.close();
      const before = fs.readFileSync(file);
      expect(() => LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 })).to.throw(StorageOpenError, /is not a MeshKV database/);
      expect(fs.readFileSync(file).equals(before)).to.equal(true);
    });
  });
});
