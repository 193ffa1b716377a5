import { expect } from 'chai';
import { type ChangeEvent, type EventStream, MeshKvError, type StreamTransport, type TopicMessage } from '@meshkv/client';
import { waitFor } from '@meshkv/common';
import { call, clientOf, RUN, SERVICE_URL, skipUnlessListed } from './api';

/** The events of `stream` until `enough` holds (or `ms` pass, then it fails). */
async function read<T extends { type: string }>(stream: EventStream<T>, enough: (got: readonly T[]) => boolean, ms = 10_000): Promise<T[]> {
  const got: T[] = [];
  const timer = setTimeout(() => stream.close(), ms);
  try {
    for await (const event of stream) {
      got.push(event);
      if (enough(got)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  if (!enough(got)) throw new Error(`only ${got.length} events within ${ms} ms: ${JSON.stringify(got).slice(0, 300)}`);
  return got;
}

/**
 * Change feeds and topics against SERVICE_URL: a watch over server-sent events and over a
 * WebSocket sees writes (made through the same service: behind a balancer, often on
 * another node), a long poll answers at the first event, bad watches get their 400s, an
 * id no node gave gets 410, and a topic message reaches its subscriber. Skipped, saying
 * so, by a service whose index does not list /watch.
 */
describe(`MeshKV change feeds and topics at ${SERVICE_URL}`, function () {
  this.timeout(30_000);
  const client = clientOf(SERVICE_URL);

  before(async function () {
    await skipUnlessListed(this, '/watch', 'change feed checks');
  });
  after(() => client.close());

  for (const transport of ['sse', 'websocket'] as StreamTransport[]) {
    it(`/watch over ${transport === 'sse' ? 'server-sent events' : 'a WebSocket'}: the sets and deletes of a prefix, in order`, async () => {
      const prefix = `${RUN}-watch-${transport}-`;
      const stream = client.watch({ prefix }, { transport });
      await stream.opened;
      await client.set(`${prefix}a`, '1', { w: 'all' });
      await client.set(`${RUN}-elsewhere`, 'x', { w: 'all' });
      await client.set(`${prefix}b`, '2', { w: 'all' });
      await client.rm(`${prefix}a`, { w: 'all' });
      const events = await read<ChangeEvent>(stream, (got) => got.length === 3);
      stream.close();
      expect(events.map((e) => [e.type, e.k, e.v])).to.deep.equal([
        ['set', `${prefix}a`, '1'],
        ['set', `${prefix}b`, '2'],
        ['rm', `${prefix}a`, undefined],
      ]);
      for (const event of events) expect(event.id).to.be.a('string');
    });
  }

  it('/watch as a long poll: answers at the first event of its key, with the id to continue after', async () => {
    const key = `${RUN}-poll`;
    const polling = client.poll({ key, wait: '20s' });
    // The poll must be waiting before the write: written until it answers.
    let answered = false;
    void polling.then(() => (answered = true));
    await waitFor(async () => {
      if (!answered) await client.set(key, 'v', { w: 'all' });
      return answered;
    }, 15_000, 'the poll to answer');
    const { events, next } = await polling;
    expect(events[0]).to.include({ type: 'set', k: key, v: 'v' });
    expect(next).to.equal(events.at(-1)?.id);
  });

  it('/watch refuses what it cannot do: 400 with the reason, 410 for an id no node gave', async () => {
    for (const [target, code] of [
      ['/watch?k=a&prefix=b', 'INVALID_PARAMETER'],
      ['/watch?after=nonsense&wait=0', 'INVALID_CURSOR'],
      ['/watch?wait=10m', 'INVALID_PARAMETER'],
    ] as const) {
      const answer = await call(target);
      expect([target, answer.status, (answer.json() as { error: string }).error]).to.deep.equal([target, 400, code]);
    }
    const expired = await client.poll({ after: 'zzzzzzzz.0-1' }).catch((error: unknown) => error);
    expect(expired).to.be.instanceOf(MeshKvError);
    expect(expired).to.include({ status: 410, code: 'CURSOR_EXPIRED' });
  });

  it('/publish reaches a subscriber of the topic, on whichever node each landed', async () => {
    const topic = `${RUN}-topic`;
    const subscriber = client.subscribe(topic);
    const other = client.subscribe(`${topic}-other`);
    await Promise.all([subscriber.opened, other.opened]);
    // At most once, to subscribers connected when it arrives: sent until one arrives.
    let sent = 0;
    const reading = read<TopicMessage>(subscriber, (got) => got.length >= 1);
    await waitFor(async () => {
      const reached = await client.publish(topic, `hello ${sent++}`);
      expect(reached).to.be.within(0, 1);
      return (await Promise.race([reading.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300))]));
    }, 15_000, 'a message to arrive');
    const [message] = await reading;
    expect(message).to.deep.include({ type: 'message', t: topic });
    expect(message?.m).to.match(/^hello \d+$/);
    subscriber.close();
    other.close();
    const answer = await call(`/publish?t=${encodeURIComponent(topic)}`);
    expect([answer.status, (answer.json() as { error: string }).error]).to.deep.equal([400, 'MISSING_MESSAGE_PARAM']);
  });
});
