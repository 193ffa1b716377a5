import { signMeshRequest } from '@meshkv/common';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../src/bench/processes';
import { DATABASE_ARGS, NodeProcess } from '../../src/cluster/node-process';
import { fsyncGate } from '../../src/faults/fsync-gate';
import { Clients, converged, getAll, isFullMesh, SCENARIO_ENV, SECRET, waitFor } from '../helpers/mesh';

/**
 * Durable storage (STORAGE=lmdb) with real node processes: what a node keeps across a
 * restart, a SIGKILL and a whole-cluster stop, and how it refuses a data folder it
 * cannot use.
 */
describe('durable storage (real node processes, STORAGE=lmdb)', function () {
  this.timeout(60_000);
  const nodes: NodeProcess[] = [];
  const folders: string[] = [];
  const clients = new Clients();

  const dataDir = (): string => {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-durable-'));
    folders.push(made);
    return made;
  };
  const start = async (name: string, env: Record<string, string>): Promise<NodeProcess> => {
    const node = await NodeProcess.start(name, { ...SCENARIO_ENV, STORAGE: 'lmdb', ...env });
    nodes.push(node);
    return node;
  };
  /** Writes key-from … key-(to-1), 16 at a time (so that sync commits are shared). */
  const write = async (node: NodeProcess, from: number, to: number, w = '1'): Promise<void> => {
    let next = from;
    const writer = async (): Promise<void> => {
      while (next < to) {
        const i = next++;
        expect((await clients.get(node.url, `/set?k=key-${i}&v=value-${i}&w=${w}`)).status).to.equal(200);
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
  };

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`\n--- ${node.name} log (tail) ---\n${node.log.slice(-3000)}\n`);
    }
    await clients.close();
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });
  after(() => {
    for (const made of folders.splice(0)) fs.rmSync(made, { recursive: true, force: true });
  });

  it('a single node stopped and started again has its records, tombstones, node id and clear', async () => {
    const node = await start('solo', { DATA_DIR: dataDir() });
    await write(node, 0, 50);
    expect((await clients.get(node.url, '/clear')).status).to.equal(200);
    await write(node, 100, 300);
    expect((await clients.get(node.url, '/rm?k=key-150')).status).to.equal(200);
    const before = await node.status();
    await node.stop();
    await clients.close();
    await node.restart();
    const after = await node.status();
    expect(after.nodeId).to.equal(before.nodeId);
    expect(after.incarnation).to.be.above(before.incarnation);
    expect(after.availableRecords).to.equal(199);
    expect(after.tombstones).to.equal(1);
    // A clean stop saved the digests: this start did not read every record.
    expect(after.storageOpen.digests).to.equal('saved');
    expect((await clients.get(node.url, '/get?k=key-299')).text).to.equal('"value-299"');
    expect((await clients.get(node.url, '/get?k=key-150')).status).to.equal(404);
    expect((await clients.get(node.url, '/get?k=key-10')).status).to.equal(404); // cleared before the restart
    // A write after the restart wins over one made before it, whatever the wall clock did.
    expect((await clients.get(node.url, '/set?k=key-100&v=after')).status).to.equal(200);
    expect((await clients.get(node.url, '/get?k=key-100')).text).to.equal('"after"');
  });

  it('DURABILITY=sync answers a write only once its commit is on disk; batch answers at once (a disk whose flushes wait at a gate)', async function () {
    const gate = fsyncGate();
    if ('why' in gate) {
      if (process.env.CI === 'true') throw new Error(gate.why);
      process.stdout.write(`      skipped: ${gate.why}\n`);
      this.skip();
    }
    try {
      for (const durability of ['sync', 'batch'] as const) {
        const node = await start(`gated-${durability}`, { DATA_DIR: dataDir(), DURABILITY: durability, DURABILITY_INTERVAL_MS: '10', ...gate.env });
        gate.close();
        let answered = false;
        const write = clients.get(node.url, '/set?k=gated&v=1', 30_000).then((res) => {
          answered = true;
          return res.status;
        });
        await waitFor(() => gate.waiting, 10_000, 'the commit of the write to flush, and wait at the gate');
        // A round trip through the node after the commit: an answer given at the commit would be out by now.
        expect((await clients.get(node.url, '/get?k=gated')).text).to.equal('"1"');
        expect(answered, `${durability}: answered while its commit is not on disk`).to.equal(durability === 'batch');
        gate.open();
        expect(await write).to.equal(200);
        await node.stop();
      }
    } finally {
      gate.open();
      gate.remove();
    }
  });

  for (let run = 1; run <= 3; run++) {
    it(`DURABILITY=sync: SIGKILL during a steady write load loses no acknowledged write (run ${run}, random kill point)`, async () => {
      const node = await start(`killed-${run}`, { DATA_DIR: dataDir(), DURABILITY: 'sync' });
      const acked: number[] = [];
      let next = 0;
      let stop = false;
      const writer = async (): Promise<void> => {
        while (!stop && next < 20_000) {
          const i = next++;
          try {
            const res = await clients.get(node.url, `/set?k=key-${i}&v=value-${i}`, 3000);
            if (res.status === 200) acked.push(i);
          } catch {
            // the kill: no answer, no acknowledgement
          }
        }
      };
      const writers = Array.from({ length: 16 }, writer);
      const killAt = 500 + Math.floor(Math.random() * 3000);
      await waitFor(() => acked.length >= killAt, 20_000, 'writes to be acknowledged');
      await node.crash();
      stop = true;
      await Promise.all(writers);
      await clients.close();
      await node.restart();
      const held = await getAll(node);
      const lost = acked.filter((i) => held.get(`key-${i}`) !== `value-${i}`);
      process.stdout.write(`      killed after ${acked.length} acknowledged writes; ${held.size} records after restart\n`);
      expect((await node.status()).storageOpen.digests, 'after a crash the digests are rebuilt').to.equal('rebuilt');
      expect(lost, `acknowledged writes missing after the restart (of ${acked.length})`).to.deep.equal([]);
    });
  }

  it('a node restarted in a mesh gets only what changed while it was down', async () => {
    const dirs = [dataDir(), dataDir(), dataDir()];
    const a = await start('mesh-a', { DATA_DIR: dirs[0] as string });
    const b = await start('mesh-b', { DATA_DIR: dirs[1] as string, MESH_NETWORK_URL: a.url });
    const c = await start('mesh-c', { DATA_DIR: dirs[2] as string, MESH_NETWORK_URL: a.url });
    await waitFor(() => isFullMesh([a, b, c]), 10_000, 'a full mesh');
    await write(a, 0, 5000, 'all');
    await c.stop();
    await write(a, 5000, 5100, '2');
    await c.restart();
    await waitFor(async () => (await c.status()).availableRecords === 5100 && (await converged([a, b, c])), 15_000, 'the restarted node to catch up');
    const status = await c.status();
    const pulled = status.mesh.recordsApplied;
    const rounds = [status.mesh.bootstrap, status.mesh.lastSync].filter((round) => round !== undefined);
    process.stdout.write(
      `      restarted with 5000 records; applied ${pulled} records from its peers (rounds: ${rounds.map((r) => `${r.pulled} pulled, ${r.bytesIn} bytes in`).join('; ')})\n`,
    );
    // 100 records changed while it was down: those come, not the 5000 it kept.
    expect(pulled).to.be.within(100, 300);
    // It started from the digests it saved when it stopped; now they match its peers'.
    expect(status.storageOpen.digests).to.equal('saved');
    const digests = async (node: NodeProcess): Promise<string> => {
      const res = await fetch(`${node.url}/_mesh/digests`, {
        method: 'POST',
        headers: { authorization: signMeshRequest(SECRET, { method: 'POST', path: '/_mesh/digests', body: '{"clear":null}' }), 'content-type': 'application/json' },
        body: '{"clear":null}',
      });
      return ((await res.json()) as { digests: string }).digests;
    };
    expect(await digests(c)).to.equal(await digests(a));
  });

  it('a whole 3-node cluster stopped and started again keeps all its data', async () => {
    const dirs = [dataDir(), dataDir(), dataDir()];
    const a = await start('all-a', { DATA_DIR: dirs[0] as string });
    const b = await start('all-b', { DATA_DIR: dirs[1] as string, MESH_NETWORK_URL: a.url });
    const c = await start('all-c', { DATA_DIR: dirs[2] as string, MESH_NETWORK_URL: a.url });
    const three = [a, b, c];
    await waitFor(() => isFullMesh(three), 10_000, 'a full mesh');
    await write(a, 0, 1000, 'all');
    await write(b, 1000, 2000, 'all');
    expect((await clients.get(c.url, '/rm?k=key-7&w=all')).status).to.equal(200);
    await Promise.all(three.map((node) => node.stop()));
    await clients.close();
    for (const node of three) await node.restart();
    await waitFor(() => isFullMesh(three), 10_000, 'the mesh again');
    for (const node of three) {
      const held = await getAll(node);
      expect(held.size, node.name).to.equal(1999);
      expect(held.get('key-1999')).to.equal('value-1999');
      expect(held.has('key-7')).to.equal(false);
    }
  });

  it('a node stopped longer than the tombstone TTL and started from its file does not bring deleted keys back', async () => {
    // Deletes are held MAX_CLOCK_DRIFT_MS past the last sync with every node still waited for.
    const env = { TOMBSTONE_TTL_MS: '1000', MAX_CLOCK_DRIFT_MS: '1000' };
    const a = await start('ttl-a', { ...env, DATA_DIR: dataDir() });
    const b = await start('ttl-b', { ...env, DATA_DIR: dataDir(), MESH_NETWORK_URL: a.url });
    const c = await start('ttl-c', { ...env, DATA_DIR: dataDir(), MESH_NETWORK_URL: a.url });
    await waitFor(() => isFullMesh([a, b, c]), 10_000, 'a full mesh');
    expect((await clients.get(a.url, '/set?k=doomed&v=1&w=all')).status).to.equal(200);
    expect((await clients.get(a.url, '/set?k=kept&v=1&w=all')).status).to.equal(200);
    await c.stop();
    expect((await clients.get(a.url, '/rm?k=doomed&w=2')).status).to.equal(200);
    // Once A and B purged the tombstone, only C's file still holds "doomed": its saved
    // last contact with a peer tells it, at restart, that it was away too long.
    // Up to several purge periods: a node that purged first may get the tombstone handed
    // back by the other's next round, and purges it again at its next period.
    await waitFor(async () => (await a.status()).tombstones === 0 && (await b.status()).tombstones === 0, 20_000, 'the tombstones purged');
    await clients.close();
    await c.restart();
    await waitFor(async () => (await c.status()).ready && (await converged([a, b, c])), 10_000, 'C to bootstrap again');
    for (const node of [a, b, c]) {
      expect((await clients.get(node.url, '/get?k=doomed')).status, `doomed on ${node.name}`).to.equal(404);
      expect((await clients.get(node.url, '/get?k=kept')).text).to.equal('"1"');
    }
  });

  describe('a data folder it cannot use: a clear message, exit status 1, nothing changed', () => {
    const run = (env: Record<string, string>, uid?: number): Promise<{ code: number | null; output: string }> =>
      new Promise((resolve) => {
        void freePort().then((port) => {
          const child = spawn(process.execPath, [...DATABASE_ARGS], {
            env: { PATH: process.env.PATH ?? '', PORT: String(port), BIND_ADDRESS: '127.0.0.1', STORAGE: 'lmdb', LOG_LEVEL: 'silent', ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
            ...(uid === undefined ? {} : { uid, gid: uid }),
          });
          let output = '';
          child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, output });
          });
        });
      });

    it('DATA_DIR is a file', async () => {
      const file = path.join(dataDir(), 'a-file');
      fs.writeFileSync(file, 'precious');
      const { code, output } = await run({ DATA_DIR: file });
      expect(code).to.equal(1);
      expect(output).to.contain('is not a folder');
      expect(fs.readFileSync(file, 'utf8')).to.equal('precious');
    });

    it('the database file is corrupt', async () => {
      const directory = dataDir();
      const garbage = Buffer.alloc(32 * 1024, 0x42);
      fs.writeFileSync(path.join(directory, 'meshkv.mdb'), garbage);
      const { code, output } = await run({ DATA_DIR: directory });
      expect(code).to.equal(1);
      expect(output).to.contain('cannot be read as a MeshKV database');
      expect(fs.readFileSync(path.join(directory, 'meshkv.mdb')).equals(garbage)).to.equal(true);
    });

    it('the folder is not writable by the user the node runs as', async function () {
      const directory = dataDir();
      fs.chmodSync(directory, 0o500);
      const root = process.getuid?.() === 0;
      // root ignores permissions: run the node as "nobody" then (only root may).
      const { code, output } = await run({ DATA_DIR: directory }, root ? 65534 : undefined);
      fs.chmodSync(directory, 0o700);
      if (root && /EACCES.*dist|Cannot find module/.test(output)) {
        process.stdout.write('      skipped: "nobody" cannot read the node\'s own files here\n');
        this.skip();
      }
      expect(code, output).to.equal(1);
      expect(output).to.contain('is not readable and writable by this user');
      expect(fs.readdirSync(directory)).to.deep.equal([]);
    });
  });
});
