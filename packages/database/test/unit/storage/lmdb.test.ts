import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HybridClock } from '../../../src/clock/hlc';
import { StorageFaultError } from '../../../src/storage/adapter';
import { LmdbAdapter, StorageOpenError } from '../../../src/storage/lmdb';
import { Store } from '../../../src/store/store';
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
  it('a scan that waits between pages pins no snapshot: the file does not grow with the writes made meanwhile', async function () {
    this.timeout(30_000);
    const directory = folder();
    const adapter = LmdbAdapter.open({ directory, durability: 'none', batchIntervalMs: 20 });
    const file = path.join(directory, 'meshkv.mdb');
    const write = async (round: number): Promise<void> => {
      for (let i = 0; i < 3000; i++) adapter.set(`key-${i}`, { value: `${round}`.padEnd(1000, 'x'), hlc: round * 10_000 + i, nodeId: 'n1' });
      await adapter.flush();
    };
    await write(0);
    const scan = adapter.entries();
    scan.next(); // the scan has begun, as a listing whose client then stops reading
    await write(1);
    const before = fs.statSync(file).size;
    for (let round = 2; round < 17; round++) await write(round);
    const grown = fs.statSync(file).size - before;
    let visited = 1;
    while (!scan.next().done) visited++;
    expect(visited).to.equal(3000);
    // 15 rounds of 3 MB: a pinned snapshot keeps every freed page in use (about 45 MB).
    expect(grown, `${(grown / 1e6).toFixed(1)} MB`).to.be.below(12e6);
    await adapter.close();
  });

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

  it('a write handed to LMDB and cleared before its commit lands is not remembered as a head after the clear', async () => {
    const adapter = LmdbAdapter.open({ directory: folder(), durability: 'sync', batchIntervalMs: 20 });
    adapter.set('k', { value: 'v', hlc: 1, nodeId: 'n' });
    adapter.set('gone', { value: 'v', hlc: 2, nodeId: 'n' });
    await adapter.flush();
    expect(adapter.head('gone')).to.deep.equal({ hlc: 2, nodeId: 'n', tombstone: false });
    adapter.set('k', { value: 'w', hlc: 3, nodeId: 'n' });
    const handed = adapter.flush(); // handed over at the end of this turn, committed later
    await new Promise((resolve) => setImmediate(resolve));
    adapter.clear();
    await handed;
    await adapter.flush();
    expect(adapter.head('k')).to.equal(undefined);
    expect(adapter.head('gone')).to.equal(undefined);
    expect(adapter.size).to.equal(0);
    await adapter.close();
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
    it('a MeshKV database of a newer storage format, saying which', async () => {
      const directory = folder();
      const file = path.join(directory, 'meshkv.mdb');
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the same module the adapter loads
      const { open } = require('lmdb') as typeof import('lmdb');
      const future = open({ path: file, noSubdir: true, maxDbs: 4 });
      await future.openDB<string, string>({ name: 'meta', encoding: 'string' }).put('format', 'meshkv-records-7');
      await future.close();
      const before = fs.readFileSync(file);
      expect(() => LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 })).to.throw(
        StorageOpenError,
        /was written by a newer MeshKV \(format "meshkv-records-7"; this release reads "meshkv-records-2"\)/,
      );
      expect(fs.readFileSync(file).equals(before)).to.equal(true);
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

describe('an LMDB file written by release 0.1.0 (storage format 1)', () => {
  /** test/fixtures/lmdb-format-1: see its README for what it holds and how it was made. */
  const FIXTURE = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'lmdb-format-1', 'meshkv.mdb');

  it('is migrated to format 2 when opened, with every record, the tombstone, the clear, the node id and the saved summary', async () => {
    const directory = folder();
    fs.copyFileSync(FIXTURE, path.join(directory, 'meshkv.mdb'));
    const adapter = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    expect(adapter.migrated).to.equal(7);
    expect(adapter.getMeta('format')).to.equal('meshkv-records-2');
    // Keys now in code point order, the lone surrogate (U+D800) before U+E000 and beyond.
    expect([...adapter.range('')].map(([key]) => key)).to.deep.equal(['__proto__', 'a', 'gone', 'json', 'lone\ud800', 'remote', 'ünï']);
    const store = new Store(adapter, new HybridClock(() => 1_700_000_000_000), 'fixture-node');
    expect(store.digestsAtStart).to.equal('saved');
    expect(adapter.getMeta('nodeId')).to.equal('fixture-node');
    expect(store.clearWatermark).to.deep.equal({ hlc: 1740800000001024, nodeId: 'fixture-node' });
    expect(store.liveCount).to.equal(6);
    expect(store.tombstoneCount).to.equal(1);
    expect(new Map(store.liveEntries())).to.deep.equal(
      new Map([
        ['a', 'alpha'],
        ['ünï', 'Zürich 𤭢'],
        ['__proto__', ''],
        ['remote', 'from b'],
        ['lone\ud800', 'surrogate key'],
        ['json', '{"quoted":"\\n"}'],
      ]),
    );
    expect(store.getRecord('remote')).to.deep.equal({ value: 'from b', hlc: 1740800000006149, nodeId: 'other-node' });
    expect(store.head('gone')).to.deep.equal({ hlc: 1740800000006144, nodeId: 'fixture-node', tombstone: true });
    expect(store.get('old')).to.equal(undefined);
    // The saved digests describe the records: rebuilding them from the records agrees.
    const saved = store.digests.encode();
    await adapter.close();
    const again = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    const rebuilt = new Store(again, new HybridClock(() => 1_700_000_000_000), 'fixture-node');
    expect(rebuilt.digestsAtStart).to.equal('rebuilt');
    expect(rebuilt.digests.encode().equals(saved)).to.equal(true);
    // And it takes new writes in the same file.
    rebuilt.set('after', 'upgrade');
    await rebuilt.flush();
    await again.close();
    const third = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    expect(third.migrated).to.equal(undefined);
    expect(third.get('after')?.value).to.equal('upgrade');
    expect(third.size).to.equal(8);
    await third.close();
  });
});

describe('LmdbAdapter: the free-space reserve', () => {
  const MB = 1024 * 1024;
  const record = (value: string, hlc: number) => ({ value, hlc, nodeId: 'n1' });

  it('takes no more changes under the reserve, keeps what it took readable and committed, and takes them again at twice the reserve', async () => {
    let free = 100 * MB;
    const directory = folder();
    const adapter = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20, minFreeBytes: 10 * MB, freeSpace: () => free });
    const store = new Store(adapter, new HybridClock(), 'n1', { waitForDisk: true });
    store.set('before', 'v');
    expect(store.storageFault).to.equal(undefined);

    free = 9 * MB; // another process filled the disk
    store.checkStorage();
    expect(store.storageFault?.kind).to.equal('full');
    expect(store.storageFault?.message).to.match(/MIN_FREE_DISK_MB/);
    expect(() => store.set('during', 'v')).to.throw(StorageFaultError);
    expect(() => store.apply('remote', record('v', Date.now() * 65_536), 'replicated')).to.throw(StorageFaultError);
    expect(() => store.clear()).to.throw(StorageFaultError);
    expect(store.get('before')).to.equal('v');
    await adapter.flush(); // what was taken before still commits, into the reserve

    free = 15 * MB; // over the reserve, under twice it: still full, so it does not flap
    store.checkStorage();
    expect(store.storageFault?.kind).to.equal('full');
    free = 20 * MB;
    store.checkStorage();
    expect(store.storageFault).to.equal(undefined);
    store.set('after', 'v');
    await adapter.flush();
    await adapter.close();
    const reopened = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
    expect(reopened.get('before')?.value).to.equal('v');
    expect(reopened.get('after')?.value).to.equal('v');
    expect(reopened.get('during')).to.equal(undefined);
    await reopened.close();
  });

  it('measures the disk again once its writes may have spent the room it had, not at every write', async () => {
    let free = 10 * MB + 200 * 1024;
    let measured = 0;
    const adapter = LmdbAdapter.open({
      directory: folder(),
      durability: 'none',
      batchIntervalMs: 20,
      minFreeBytes: 10 * MB,
      freeSpace: () => {
        measured++;
        return free;
      },
    });
    const start = measured;
    // 200 KiB of room: a change counts its bytes plus 16 KiB of pages, so at most a dozen.
    for (let i = 0; i < 5; i++) adapter.set(`k${i}`, record('x'.repeat(100), i + 1));
    expect(measured - start).to.equal(0);
    free = 10 * MB - 1;
    for (let i = 5; i < 20 && adapter.fault === undefined; i++) adapter.set(`k${i}`, record('x'.repeat(100), i + 1));
    expect(adapter.fault?.kind).to.equal('full');
    expect(measured - start).to.equal(1);
    await adapter.close();
  });
});

describe('LmdbAdapter: a damaged data file', () => {
  it('is refused with the recovery, never opened with less than it held, and never crashes this process', async function () {
    this.timeout(60_000);
    const source = folder();
    const made = LmdbAdapter.open({ directory: source, durability: 'none', batchIntervalMs: 20 });
    const store = new Store(made, new HybridClock(), 'n1', {});
    const RECORDS = 5000;
    const valueOf = (i: number): string => `value-${i}-`.padEnd(20 + (i % 150), '.');
    for (let i = 0; i < RECORDS; i++) store.set(`key-${i}`, valueOf(i));
    await made.flush();
    store.saveSummary(); // a clean stop
    await made.close();
    const original = fs.readFileSync(path.join(source, 'meshkv.mdb'));
    const pages = original.length / 4096;
    let refused = 0;
    // One 4 KB page overwritten with noise, spread over the file (meta pages included).
    for (let trial = 0; trial < 12; trial++) {
      const page = Math.floor((trial * (pages - 1)) / 11);
      const damaged = Buffer.from(original);
      let seed = trial + 1;
      for (let at = page * 4096; at < (page + 1) * 4096; at++) damaged[at] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      const directory = folder();
      const file = path.join(directory, 'meshkv.mdb');
      fs.writeFileSync(file, damaged);
      let adapter: LmdbAdapter;
      try {
        adapter = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 20 });
      } catch (error) {
        expect(error, `page ${page}`).to.be.instanceOf(StorageOpenError);
        expect((error as Error).message).to.match(/(is damaged: |its first page is damaged; ).*nothing was changed\. To recover: move the file aside/);
        expect(fs.readFileSync(file).equals(damaged), `page ${page}: the file is unchanged`).to.equal(true);
        refused++;
        continue;
      }
      // Opened: then it holds every record as written (the page was one LMDB did not use).
      expect(adapter.size, `page ${page}`).to.equal(RECORDS);
      for (let i = 0; i < RECORDS; i++) expect(adapter.get(`key-${i}`)?.value, `page ${page}, key-${i}`).to.equal(valueOf(i));
      await adapter.close();
    }
    expect(refused, 'most pages of a full file are in use').to.be.at.least(6);
  });
});
