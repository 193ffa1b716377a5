import type { Principal } from '../http/router';
import type { EventBatch, Sink } from './sinks';
import type { WatchHub } from './watch-hub';

/** Bytes a subscriber may have waiting before it is cut: messages are not kept for it. */
export const SUBSCRIBER_QUEUE_BYTES = 1024 * 1024;

/** Sends a message published here to the other nodes, once each (the mesh's side, see mesh/topic-relay). */
export type TopicRelay = (topic: string, message: string) => void;

interface Subscriber {
  readonly sink: Sink;
  /** Characters of the topic (its tenant's prefix) not shown. */
  readonly strip: number;
}

/**
 * Publish/subscribe by topic (docs/watch.md, Topics). Nothing is stored: a message goes
 * to the subscribers connected when it arrives, on this node and — through the relay, once
 * per peer — on every other; delivery is at most once. A subscriber whose connection
 * holds more than SUBSCRIBER_QUEUE_BYTES is cut with an `overflow` event (it lost
 * messages, and is told so). A message from a peer is delivered here and never sent on:
 * every node hears of a publish from the node that took it, so there are no loops.
 */
export class Topics {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private relay: TopicRelay | undefined;

  constructor(private readonly hub: WatchHub) {}

  /** Where messages published here go besides this node's subscribers. */
  relayTo(relay: TopicRelay): void {
    this.relay = relay;
  }

  /** Subscribers connected now, of every topic. */
  get count(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  /** Adds a subscriber of `topic` on a slot reserved in the hub; the slot is released when it closes. */
  subscribe(topic: string, strip: number, sink: Sink, principal?: Principal): void {
    const subscriber: Subscriber = { sink, strip };
    let set = this.subscribers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(topic, set);
    }
    set.add(subscriber);
    this.hub.keepAlive(sink, principal);
    sink.start();
    sink.onClose(() => {
      const current = this.subscribers.get(topic);
      current?.delete(subscriber);
      if (current?.size === 0) this.subscribers.delete(topic);
      this.hub.release();
    });
  }

  /** A message published on this node: to its subscribers here, and to every peer. Returns the subscribers reached here. */
  publish(topic: string, message: string): number {
    this.relay?.(topic, message);
    return this.deliver(topic, message);
  }

  /** A message for this node's subscribers only (from a peer, or a publish here). Returns how many it reached. */
  deliver(topic: string, message: string): number {
    const set = this.subscribers.get(topic);
    if (set === undefined) return 0;
    let reached = 0;
    // Every subscriber of one stored topic sees the same text, but for how much of its tenant's prefix it is shown.
    let batch: EventBatch | undefined;
    let textStrip = -1;
    for (const { sink, strip } of set) {
      if (!sink.open) continue;
      if (sink.buffered > SUBSCRIBER_QUEUE_BYTES) {
        sink.end(JSON.stringify({ type: 'overflow', message: 'This subscriber did not read its messages: more than 1 MiB was waiting, so it was cut and lost messages (topics keep none). Subscribe again.' }), 'overflow');
        continue;
      }
      if (batch === undefined || strip !== textStrip) {
        batch = { texts: [JSON.stringify({ type: 'message', t: topic.slice(strip), m: message })], ids: [undefined] };
        textStrip = strip;
      }
      sink.send(batch);
      reached++;
    }
    return reached;
  }
}
