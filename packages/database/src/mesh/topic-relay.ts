import type { Logger } from '@meshkv/common';
import type { Membership } from './membership';
import type { MeshTransport } from './transport';

/** Messages waiting for one peer at most; past it the oldest are dropped (and counted). */
export const RELAY_QUEUE_MAX = 10_000;
/** Messages in one request at most. */
const RELAY_BATCH = 500;

/** POST /_mesh/publish: topic messages, each `[topic, message]` (the topic with its tenant's prefix). */
export interface PublishBody {
  readonly messages: readonly (readonly [string, string])[];
}

export interface TopicRelayStats {
  /** Messages handed to a peer (one per peer). */
  sent: number;
  /** Messages a peer did not get: its queue was full, or its request failed. */
  dropped: number;
}

/**
 * Carries topic messages published on this node to every peer alive now, once each: the
 * messages of one moment go in one request per peer, one request in flight per peer. At
 * most once, as topics promise: a failed request is not retried, a peer's queue past
 * RELAY_QUEUE_MAX drops its oldest; both are counted (`stats`), never silent in metrics.
 */
export class TopicRelay {
  readonly stats: TopicRelayStats = { sent: 0, dropped: 0 };
  private readonly queues = new Map<string, [string, string][]>();
  private readonly busy = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly membership: Membership,
    private readonly transport: MeshTransport,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Queues the message for every peer alive now. */
  send(topic: string, message: string): void {
    const peers = this.membership.alive();
    if (peers.length === 0) return;
    for (const peer of peers) {
      let queue = this.queues.get(peer.url);
      if (queue === undefined) {
        queue = [];
        this.queues.set(peer.url, queue);
      }
      if (queue.length >= RELAY_QUEUE_MAX) {
        queue.shift();
        this.stats.dropped++;
      }
      queue.push([topic, message]);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    for (const url of this.queues.keys()) this.post(url);
  }

  private post(url: string): void {
    const queue = this.queues.get(url);
    if (queue === undefined || this.busy.has(url)) return;
    if (queue.length === 0) {
      this.queues.delete(url);
      return;
    }
    const messages = queue.splice(0, RELAY_BATCH);
    this.busy.add(url);
    const body: PublishBody = { messages };
    this.transport.post(url, '/_mesh/publish', body, this.timeoutMs).then(
      () => {
        this.stats.sent += messages.length;
      },
      (error: unknown) => {
        this.stats.dropped += messages.length;
        this.logger.debug({ err: error, peer: url, messages: messages.length }, 'topic messages not delivered to a peer');
      },
    ).finally(() => {
      this.busy.delete(url);
      this.post(url);
    });
  }
}
