import { expect } from 'chai';
import { type ChangeEvent, MeshKvClient, MeshKvError, StreamError } from '@meshkv/client';
import { NodeProcess } from '../../src/cluster/node-process';
import { Clients, converged, getAll, isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

/**
 * What a watcher builds from the events it gets: the values of the keys it saw set and
 * not removed since. Every (key, version) pair it was sent is counted, so a change sent
 * twice shows up.
 */
class Picture {
  readonly values = new Map<string, string>();
  readonly seen = new Map<string, number>();
  events = 0;

  apply(event: ChangeEvent): void {
    this.events++;
    if (event.version !== undefined) {
      const id = `${event.k ?? ''} ${event.version}`;
      this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
    }
    if (event.type === 'set') this.values.set(event.k as string, event.v as string);
    else if (event.type === 'clear' && event.k === undefined) this.values.clear();
    else this.values.delete(event.k as string);
  }

  /** (key, version) pairs sent more than once. */
  duplicates(): string[] {
    return [...this.seen].filter(([, count]) => count > 1).map(([id]) => id);
  }

  equals(other: Map<string, string>): boolean {
    return this.values.size === other.size && [...other].every(([k, v]) => this.values.get(k) === v);
  }
}

/** Change feeds across a mesh of real node processes (issue: change feeds, Checks). */
describe('change feeds and topics across a mesh (real node processes)', function () {
  this.timeout(120_000);
  const nodes: NodeProcess[] = [];
  const clients = new Clients();
  const typed: MeshKvClient[] = [];

  async function start(count: number, env: Record<string, string> = {}): Promise<NodeProcess[]> {
    const started: NodeProcess[] = [];
    for (let i = 0; i < count; i++) {
      const seed = i === 0 ? '' : (started[0] as NodeProcess).url;
      const node = await NodeProcess.start(`node-${nodes.length + 1}`, { ...SCENARIO_ENV, MESH_NETWORK_URL: seed, ...env });
      nodes.push(node);
      started.push(node);
    }
    await waitFor(() => isFullMesh(started), 10_000, 'a full mesh');
    return started;
  }

  function client(node: NodeProcess): MeshKvClient {
    const made = new MeshKvClient({ url: node.url, timeoutMs: 20_000 });
    typed.push(made);
    return made;
  }

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`\n--- ${node.name} log (tail) ---\n${node.log.slice(-3000)}\n`);
    }
    await Promise.all(typed.splice(0).map((c) => c.close()));
    await clients.close();
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  it('a watcher on C sees every write made on A and B once, those that reached C by anti-entropy after it was frozen included', async () => {
    // OUTBOX_MAX=10: the writes made while C is frozen overflow A's and B's outboxes for C,
    // so they reach C by anti-entropy, not by replication.
    const [a, b, c] = await start(3, { AE_INTERVAL_MS: '500', OUTBOX_MAX: '10' });
    const picture = new Picture();
    const stream = client(c!).watch({}, { transport: 'websocket' });
    await stream.opened;
    const reading = (async () => {
      for await (const event of stream) picture.apply(event);
    })();
    for (let i = 0; i < 100; i++) await clients.get((i % 2 === 0 ? a : b)!.url, `/set?k=before-${i % 40}&v=${i}`);
    await waitFor(() => converged([a!, b!, c!]), 5000, 'convergence before the freeze');
    // Records moved by anti-entropy to C: pulled by C's rounds, or pushed by A's and B's.
    const repaired = async (): Promise<number> => {
      const [sa, sb, sc] = await Promise.all([a!.status(), b!.status(), c!.status()]);
      return sc.mesh.syncPulled + sa.mesh.syncPushed + sb.mesh.syncPushed;
    };
    const repairedBefore = await repaired();
    c!.freeze();
    let i = 0;
    // Writes go on at A and B until both call C down: from then on C gets them by anti-entropy.
    await waitFor(
      async () => {
        for (let n = 0; n < 20; n++, i++) await clients.get((i % 2 === 0 ? a : b)!.url, i % 7 === 0 ? `/rm?k=before-${i % 40}` : `/set?k=during-${i % 60}&v=${i}`);
        const [sa, sb] = await Promise.all([a!.status(), b!.status()]);
        return [sa, sb].every((s) => s.peers.find((p) => p.url === c!.url)?.state === 'down');
      },
      15_000,
      'A and B to see C down',
    );
    for (let n = 0; n < 50; n++, i++) await clients.get((i % 2 === 0 ? a : b)!.url, `/set?k=after-${n}&v=${i}`);
    c!.thaw();
    await waitFor(() => converged([a!, b!, c!]), 30_000, 'C to converge');
    expect(await repaired(), 'records that reached C by anti-entropy').to.be.greaterThan(repairedBefore);
    const final = await getAll(c!);
    await waitFor(() => picture.equals(final), 5000, "the watcher's picture to equal C's records");
    expect(picture.duplicates()).to.deep.equal([]);
    stream.close();
    await reading;
  });

  it('10,000 writes on A and B, a watcher on C that disconnects at random points and resumes after its last id: its picture equals /getAll', async () => {
    const [a, b, c] = await start(3);
    const watcher = client(c!);
    const picture = new Picture();
    let after: string | undefined;
    let done = false;
    let current: { close(): void } | undefined;
    let reconnects = 0;
    const ids: string[] = [];
    const watching = (async () => {
      while (!done) {
        const stream = watcher.watch(after === undefined ? {} : { after }, { transport: reconnects % 2 === 0 ? 'sse' : 'websocket' });
        current = stream;
        await stream.opened;
        after ??= stream.lastId;
        let left = 1 + Math.floor(Math.random() * 800);
        for await (const event of stream) {
          picture.apply(event);
          ids.push(event.id);
          after = event.id;
          if (--left === 0) break;
        }
        reconnects++;
      }
    })();
    const writers = [a!, b!].map(async (node, w) => {
      for (let n = 0; n < 5000; n++) {
        const key = `k${(n * 7 + w) % 500}`;
        await clients.get(node.url, n % 10 === 9 ? `/rm?k=${key}` : `/set?k=${key}&v=${w}-${n}`);
      }
    });
    await Promise.all(writers);
    await waitFor(() => converged([a!, b!, c!]), 20_000, 'the mesh to converge');
    const final = await getAll(c!);
    await waitFor(() => picture.equals(final), 10_000, "the watcher's picture to equal C's records");
    done = true;
    current?.close();
    await watching;
    expect(picture.equals(await getAll(c!))).to.equal(true);
    expect(picture.duplicates()).to.deep.equal([]);
    const seqs = ids.map((id) => Number(id.split('-').pop()));
    expect(seqs.every((seq, k) => k === 0 || seq > (seqs[k - 1] as number)), 'ids only grow, across reconnections').to.equal(true);
    expect(reconnects).to.be.greaterThan(5);
    process.stdout.write(`\n      ${picture.events} events over ${reconnects} connections\n`);
  });

  it('answers 410 CURSOR_EXPIRED to an id older than the buffer, from another node, or from before a restart', async () => {
    const [a, b] = await start(2, { WATCH_BUFFER_EVENTS: '100' });
    const onA = client(a!);
    const first = (await onA.poll()).next;
    expect((await onA.poll({ after: first })).events).to.deep.equal([]);
    for (let i = 0; i < 150; i++) await clients.get(a!.url, `/set?k=k${i}&v=${i}`);
    const expired = await onA.poll({ after: first }).catch((error: unknown) => error);
    expect(expired).to.be.instanceOf(MeshKvError);
    expect(expired).to.include({ status: 410, code: 'CURSOR_EXPIRED' });
    const recent = (await onA.poll({ after: first.replace(/-\d+$/, '-60') })).events;
    expect(recent[0]?.k).to.equal('k60');
    const stream = client(b!).watch({ after: recent[0]!.id });
    const failure = await (async () => {
      try {
        for await (const _event of stream) return undefined;
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).to.be.instanceOf(StreamError);
    expect(failure).to.include({ status: 410, code: 'CURSOR_EXPIRED' });
    const before = (await onA.poll()).next;
    await a!.stop();
    await a!.restart();
    expect(await onA.poll({ after: before }).catch((error: unknown) => (error as MeshKvError).status)).to.equal(410);
  });

  it('delivers a topic message published on A to subscribers on B and C, once each', async () => {
    const [a, b, c] = await start(3);
    const subscriptions = [b!, c!, c!].map((node) => client(node).subscribe('alerts'));
    await Promise.all(subscriptions.map((s) => s.opened));
    expect(await client(a!).publish('alerts', 'disk full')).to.equal(0);
    expect(await client(b!).publish('alerts', 'fixed')).to.equal(1);
    const received = await Promise.all(
      subscriptions.map(async (subscription) => {
        const got: string[] = [];
        for await (const message of subscription) {
          got.push(message.m);
          if (got.length === 2) break;
        }
        return got;
      }),
    );
    for (const got of received) expect(got.sort()).to.deep.equal(['disk full', 'fixed']);
  });
});
