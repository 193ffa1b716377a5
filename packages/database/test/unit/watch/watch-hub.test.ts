import { expect } from 'chai';
import { HybridClock } from '../../../src/clock/hlc';
import { MemoryAdapter } from '../../../src/storage/memory';
import { Store } from '../../../src/store/store';
import { ChangeLog } from '../../../src/watch/change-log';
import type { EndReason, EventBatch, Sink } from '../../../src/watch/sinks';
import { HIGH_WATER, WatchHub } from '../../../src/watch/watch-hub';
import { FakeScheduler } from '../../helpers/fake-scheduler';

/** A sink that keeps what it is sent; `buffered` is set by the test (a client that does not read). */
class RecordingSink implements Sink {
  readonly events: Record<string, unknown>[] = [];
  ids: (string | undefined)[] = [];
  buffered = 0;
  open = true;
  ended: { final: string | undefined; reason: EndReason } | undefined;
  beats = 0;
  private readonly drains: (() => void)[] = [];
  private readonly closes: (() => void)[] = [];
  start(id?: string): void {
    this.events.push({ type: 'open', id });
  }
  send({ texts, ids }: EventBatch): void {
    for (const text of texts) this.events.push(JSON.parse(text) as Record<string, unknown>);
    this.ids.push(...ids);
  }
  end(final: string | undefined, reason: EndReason): void {
    if (!this.open) return;
    this.open = false;
    this.ended = { final, reason };
    for (const close of this.closes) close();
  }
  heartbeat(): void {
    this.beats++;
  }
  onDrain(listener: () => void): void {
    this.drains.push(listener);
  }
  onClose(listener: () => void): void {
    this.closes.push(listener);
  }
  drain(): void {
    this.buffered = 0;
    for (const drain of this.drains) drain();
  }
  keys(): unknown[] {
    return this.events.filter((e) => e.type !== 'open').map((e) => e.k);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(settings: Partial<{ maxConnections: number; queueEvents: number; maxEvents: number }> = {}): { store: Store; log: ChangeLog; hub: WatchHub; scheduler: FakeScheduler } {
  const store = new Store(new MemoryAdapter(), new HybridClock(() => 1_000_000), 'n1');
  const log = new ChangeLog(store, { maxEvents: settings.maxEvents ?? 10_000, maxBytes: 64 * 1024 * 1024 });
  log.activate();
  const scheduler = new FakeScheduler();
  const hub = new WatchHub(log, scheduler, { maxConnections: settings.maxConnections ?? 10, heartbeatMs: 1000, queueEvents: settings.queueEvents ?? 100, graceMs: 1000, pauseAfterFlush: false });
  return { store, log, hub, scheduler };
}

describe('WatchHub', () => {
  it('sends each watcher the changes of its key or prefix, in order, after an open event with the id it starts after', async () => {
    const { store, log, hub } = setup();
    const all = new RecordingSink();
    const prefixed = new RecordingSink();
    const one = new RecordingSink();
    for (const [sink, scope] of [[all, { prefix: '', strip: 0 }], [prefixed, { prefix: 'a', strip: 0 }], [one, { key: 'b', prefix: '', strip: 0 }]] as const) {
      expect(hub.reserve()).to.equal(true);
      hub.stream(scope, sink, log.last);
    }
    store.set('a1', '1');
    store.set('b', '2');
    store.set('a2', '3');
    store.remove('b');
    await turn();
    expect(all.events[0]).to.deep.equal({ type: 'open', id: log.idOf(0) });
    expect(all.keys()).to.deep.equal(['a1', 'b', 'a2', 'b']);
    expect(prefixed.keys()).to.deep.equal(['a1', 'a2']);
    expect(one.events.slice(1).map((e) => e.type)).to.deep.equal(['set', 'rm']);
    expect(all.ids).to.deep.equal([1, 2, 3, 4].map((seq) => log.idOf(seq)));
    store.clear();
    await turn();
    expect(prefixed.events.at(-1)).to.include({ type: 'clear' });
    expect(one.events.at(-1)).to.include({ type: 'clear' });
  });

  it('collects once for watchers at the same place with the same scope, and apart for the others', async () => {
    const { store, log, hub } = setup();
    const sinks = Array.from({ length: 4 }, () => new RecordingSink());
    const batches = new Set<EventBatch>();
    for (const [i, sink] of sinks.entries()) {
      const send = sink.send.bind(sink);
      sink.send = (batch) => {
        batches.add(batch);
        send(batch);
      };
      hub.reserve();
      hub.stream(i < 3 ? { prefix: '', strip: 0 } : { prefix: 'a', strip: 0 }, sink, log.last);
    }
    store.set('a1', '1');
    store.set('b1', '1');
    await turn();
    expect(batches.size, 'one batch for the three alike, one for the prefix').to.equal(2);
    for (const sink of sinks.slice(0, 3)) expect(sink.keys()).to.deep.equal(['a1', 'b1']);
    expect(sinks[3]?.keys()).to.deep.equal(['a1']);
  });

  it('replays from an id it holds, then goes on live', async () => {
    const { store, log, hub } = setup();
    for (const k of ['a', 'b', 'c']) store.set(k, '1');
    const sink = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, sink, log.after(log.idOf(1)) as number);
    store.set('d', '1');
    await turn();
    expect(sink.keys()).to.deep.equal(['b', 'c', 'd']);
  });

  it('stops at a full connection and goes on when it drains, losing nothing', async () => {
    const { store, log, hub } = setup({ queueEvents: 1000 });
    const sink = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, sink, log.last);
    sink.buffered = HIGH_WATER;
    for (let i = 0; i < 50; i++) store.set(`k${i}`, '1');
    await turn();
    expect(sink.keys()).to.deep.equal([]);
    sink.drain();
    await turn();
    expect(sink.keys()).to.have.length(50);
    expect(sink.ended).to.equal(undefined);
  });

  it('cuts a stream with an overflow event once it falls WATCH_QUEUE_EVENTS behind on a full connection, and frees its slot', async () => {
    const { store, log, hub } = setup({ queueEvents: 10, maxConnections: 1 });
    const sink = new RecordingSink();
    expect(hub.reserve()).to.equal(true);
    hub.stream({ prefix: '', strip: 0 }, sink, log.last);
    sink.buffered = HIGH_WATER;
    for (let i = 0; i < 5; i++) store.set(`k${i}`, '1');
    await turn();
    expect(sink.ended, 'within the queue').to.equal(undefined);
    for (let i = 5; i < 20; i++) store.set(`k${i}`, '1');
    await turn();
    expect(sink.ended?.reason).to.equal('overflow');
    expect(JSON.parse(sink.ended?.final ?? '{}')).to.include({ type: 'overflow', behind: 20 });
    expect(hub.connections).to.equal(0);
    expect(hub.reserve()).to.equal(true);
  });

  it('lets a stream that resumes far behind catch up as long as it reads', async () => {
    const { store, log, hub } = setup({ queueEvents: 10 });
    for (let i = 0; i < 100; i++) store.set(`k${i}`, '1');
    const sink = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, sink, log.after(log.idOf(0)) as number);
    for (let i = 0; i < 5; i++) store.set(`more${i}`, '1');
    await turn();
    expect(sink.ended).to.equal(undefined);
    expect(sink.keys()).to.have.length(105);
  });

  it('refuses past WATCH_MAX_CONNECTIONS until a stream closes', () => {
    const { log, hub } = setup({ maxConnections: 2 });
    expect(hub.reserve()).to.equal(true);
    const sink = new RecordingSink();
    hub.stream({ prefix: '', strip: 0 }, sink, log.last);
    expect(hub.reserve()).to.equal(true);
    expect(hub.reserve()).to.equal(false);
    expect(WatchHub.busy().status).to.equal(503);
    sink.end(undefined, 'shutdown');
    expect(hub.reserve()).to.equal(true);
  });

  it('beats every WATCH_HEARTBEAT_MS while a stream is open, and not once none is', async () => {
    const { log, hub, scheduler } = setup();
    const sink = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, sink, log.last);
    await scheduler.advance(3000);
    expect(sink.beats).to.equal(3);
    sink.end(undefined, 'shutdown');
    await scheduler.advance(3000);
    expect(sink.beats).to.equal(3);
  });

  it('tells every open stream CURSOR_EXPIRED when the node wipes its data, and ends every stream when it stops', () => {
    const { store, log, hub } = setup();
    const first = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, first, log.last);
    store.wipe();
    expect(first.ended?.reason).to.equal('expired');
    expect(JSON.parse(first.ended?.final ?? '{}')).to.include({ type: 'error', status: 410, error: 'CURSOR_EXPIRED' });
    const second = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: '', strip: 0 }, second, log.last);
    hub.close();
    expect(second.ended?.reason).to.equal('shutdown');
    expect(hub.reserve(), 'a stopping node takes no new watch').to.equal(false);
  });

  it('shows a tenant its own keys only, without its prefix', async () => {
    const { store, log, hub } = setup();
    const sink = new RecordingSink();
    hub.reserve();
    hub.stream({ prefix: 't1/', strip: 3 }, sink, log.last);
    store.set('t1/a', '1');
    store.set('t2/a', '1');
    store.set('a', '1');
    await turn();
    expect(sink.keys()).to.deep.equal(['a']);
    expect(sink.events).to.have.length(2);
  });
});
