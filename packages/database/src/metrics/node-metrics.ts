import type { PeerStatus } from '@meshkv/client';
import type { Buckets } from '@meshkv/common';
import type { MetricsPage } from '@meshkv/common/metrics';
import type { HttpServer } from '../http/server';
import type { MeshStats } from '../mesh/stats';
import type { Store } from '../store/store';
import { NO_ROUTE, type RequestStats } from './requests';

/** What the metrics read of the mesh, at scrape time only. */
export interface MeshMetricsView {
  readonly isReady: boolean;
  readonly stats: MeshStats;
  readonly replicationLag: Buckets;
  peerStatus(): PeerStatus[];
  clockStatus(): { readonly offsetMs: number };
}

/** What the metrics read of the storage. */
export interface StorageMetricsView {
  readonly storedBytes: number;
  readonly commitLatency?: Buckets;
}

/** What the metrics read of change feeds and topics. */
export interface WatchMetricsView {
  /** Watches (streams and long polls) and subscriptions open now. */
  readonly connections: number;
  readonly stats: { readonly overflows: number; readonly eventsSent: number; readonly refused: number };
  /** Events kept for watchers that resume. */
  readonly bufferedEvents: number;
  readonly subscribers: number;
  /** Topic messages relayed to peers, and those a peer did not get. */
  readonly relay: { readonly sent: number; readonly dropped: number };
}

export interface NodeMetricsDeps {
  readonly server: HttpServer;
  readonly store: Store;
  readonly storage: StorageMetricsView;
  readonly mesh: MeshMetricsView;
  readonly watch: WatchMetricsView;
  /** Where requests are counted (the node keeps it: it tells its peers the totals too). */
  readonly requests: RequestStats;
  readonly nodeId: string;
  readonly version: string;
}

const PEER_STATES = ['alive', 'suspect', 'down'] as const;
const APPLY_OUTCOMES = [
  ['applied', 'recordsApplied'],
  ['stale', 'recordsStale'],
  ['drift', 'recordsDrift'],
  ['expired', 'recordsExpired'],
  ['limits', 'recordsOverLimits'],
] as const;

/**
 * The node's Prometheus metrics, in a registry of its own (several nodes may share a
 * process in tests). Requests are counted on the request path in plain numbers
 * (RequestStats); everything else is read from the store, the mesh and the storage when
 * /metrics is scraped. prom-client itself (about 12 MB of memory once loaded, most of it
 * its tracing dependency) is loaded at the first scrape: a node nobody scrapes pays for the
 * request counts only. Names follow Prometheus' conventions: a `meshkv_` prefix, base units
 * (seconds, bytes), `_total` for counters; Node's own metrics (memory, event-loop lag, GC)
 * are prom-client's defaults, collected from the first scrape on.
 */
export class NodeMetrics {
  readonly requests: RequestStats;
  private page: MetricsPage | undefined;

  constructor(private readonly deps: NodeMetricsDeps) {
    const { server } = deps;
    this.requests = deps.requests;
    server.on('request:complete', (ctx) => this.requests.observe(ctx.route, ctx.method, ctx.res.statusCode, (performance.now() - ctx.startedAt) / 1000));
    server.on('request:refused', (status, startedAt, method) => this.requests.observe(undefined, method, status, (performance.now() - startedAt) / 1000));
  }

  /** The metrics in Prometheus' text format, and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    this.page ??= this.build();
    return { text: await this.page.render(), contentType: this.page.contentType };
  }

  private build(): MetricsPage {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded at the first scrape, not at start (see above) */
    const { collectNodeMetrics, counterOf, gaugeOf, MetricsPage: Page } = require('@meshkv/common/metrics') as typeof import('@meshkv/common/metrics');
    const { Registry } = require('prom-client') as typeof import('prom-client');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const deps = this.deps;
    const { server, store, storage, mesh } = deps;
    const registry = new Registry();
    const page = new Page(registry);
    collectNodeMetrics(registry);
    gaugeOf({ name: 'meshkv_node_info', help: 'Always 1: the node id and version, to join with the other metrics of the same target.', labelNames: ['node_id', 'version'], registry }, () => [
      [{ node_id: deps.nodeId, version: deps.version }, 1],
    ]);

    page.addBuckets({
      name: 'meshkv_http_request_duration_seconds',
      help: `Time from a request's arrival to its answer written, by route pattern ("${NO_ROUTE}": no route), method and status; _count counts requests.`,
      series: () => this.requests.series(),
    });
    gaugeOf({ name: 'meshkv_http_connections', help: 'Client connections open now.', registry }, () => server.connections);

    gaugeOf({ name: 'meshkv_records', help: 'Live records (expired ones not yet swept excluded).', registry }, () => store.liveCount);
    gaugeOf({ name: 'meshkv_tombstones', help: 'Tombstones kept until TOMBSTONE_TTL_MS.', registry }, () => store.tombstoneCount);
    gaugeOf({ name: 'meshkv_expiring_records', help: 'Records that carry an expiry.', registry }, () => store.expiringCount);
    gaugeOf({ name: 'meshkv_storage_bytes', help: 'About how many bytes the records take in storage (memory: the values; lmdb: the pages of the file in use).', registry }, () => storage.storedBytes);
    const commits = storage.commitLatency;
    if (commits !== undefined) {
      page.addBuckets({ name: 'meshkv_storage_commit_duration_seconds', help: 'Time from a change to its commit on disk (STORAGE=lmdb), per change.', series: () => [{ labels: {}, buckets: commits }] });
    }

    gaugeOf({ name: 'meshkv_ready', help: '1 when the node is ready (joined, caught up, storage writable), else 0.', registry }, () => (mesh.isReady && store.storageFault === undefined ? 1 : 0));
    gaugeOf({ name: 'meshkv_peers', help: 'Peers known, by state.', labelNames: ['state'], registry }, () => {
      const peers = mesh.peerStatus();
      return PEER_STATES.map((state) => [{ state }, peers.filter((peer) => peer.state === state).length] as const);
    });
    gaugeOf({ name: 'meshkv_peer_outbox_records', help: 'Records waiting to be sent to each peer.', labelNames: ['peer'], registry }, () =>
      mesh.peerStatus().map((peer) => [{ peer: peer.url }, peer.outbox] as const),
    );
    gaugeOf({ name: 'meshkv_peer_last_contact_seconds', help: 'Time since the last exchange with each peer (peers never heard from excluded).', labelNames: ['peer'], registry }, () =>
      mesh.peerStatus().flatMap((peer) => (peer.lastContactMs === null ? [] : [[{ peer: peer.url }, peer.lastContactMs / 1000] as const])),
    );
    gaugeOf({ name: 'meshkv_clock_offset_seconds', help: "This node's clock minus the mesh's (the median member's), as measured by pings.", registry }, () => mesh.clockStatus().offsetMs / 1000);

    const stats = mesh.stats;
    counterOf({ name: 'meshkv_replication_requests_total', help: 'Replication requests sent to peers (each batch and each retry).', registry }, () => stats.replicationRequests);
    counterOf({ name: 'meshkv_replication_failures_total', help: 'Replication requests that failed (they are retried).', registry }, () => stats.replicationFailures);
    counterOf({ name: 'meshkv_replication_records_sent_total', help: 'Records sent to peers by replication.', registry }, () => stats.recordsSent);
    counterOf({ name: 'meshkv_replication_records_received_total', help: 'Records received from peers (replication and anti-entropy), by what the store did with them.', labelNames: ['outcome'], registry }, () =>
      APPLY_OUTCOMES.map(([outcome, field]) => [{ outcome }, stats[field]] as const),
    );
    counterOf({ name: 'meshkv_outbox_overflows_total', help: 'Outboxes dropped past OUTBOX_MAX (the peer then gets a full anti-entropy round).', registry }, () => stats.outboxOverflows);
    page.addBuckets({
      name: 'meshkv_replication_lag_seconds',
      help: 'For each replication batch received: how long ago its newest write was made at its origin (by the mesh time this node measures).',
      series: () => [{ labels: {}, buckets: mesh.replicationLag }],
    });
    counterOf({ name: 'meshkv_anti_entropy_rounds_total', help: 'Anti-entropy rounds this node started, by result.', labelNames: ['result'], registry }, () => [
      [{ result: 'ok' }, stats.syncRounds],
      [{ result: 'failed' }, stats.syncFailures],
    ]);
    counterOf({ name: 'meshkv_anti_entropy_records_total', help: 'Records moved by anti-entropy rounds, by direction.', labelNames: ['direction'], registry }, () => [
      [{ direction: 'pulled' }, stats.syncPulled],
      [{ direction: 'pushed' }, stats.syncPushed],
    ]);
    counterOf({ name: 'meshkv_anti_entropy_bytes_total', help: 'Bytes of anti-entropy bodies, by direction (in: answers received; out: requests sent).', labelNames: ['direction'], registry }, () => [
      [{ direction: 'in' }, stats.syncBytesIn],
      [{ direction: 'out' }, stats.syncBytesOut],
    ]);

    const watch = deps.watch;
    gaugeOf({ name: 'meshkv_watch_connections', help: 'Watches (streams and long polls) and topic subscriptions open now (WATCH_MAX_CONNECTIONS at most).', registry }, () => watch.connections);
    gaugeOf({ name: 'meshkv_watch_buffer_events', help: 'Change events kept for watchers that resume (WATCH_BUFFER_EVENTS at most).', registry }, () => watch.bufferedEvents);
    counterOf({ name: 'meshkv_watch_events_sent_total', help: 'Change events sent to watchers (an event sent to ten watchers counts ten).', registry }, () => watch.stats.eventsSent);
    counterOf({ name: 'meshkv_watch_overflows_total', help: 'Streams cut for falling WATCH_QUEUE_EVENTS behind on a full connection.', registry }, () => watch.stats.overflows);
    counterOf({ name: 'meshkv_watch_refused_total', help: 'Watches and subscriptions refused past WATCH_MAX_CONNECTIONS.', registry }, () => watch.stats.refused);
    gaugeOf({ name: 'meshkv_topic_subscribers', help: 'Topic subscribers connected to this node.', registry }, () => watch.subscribers);
    counterOf({ name: 'meshkv_topic_relayed_total', help: 'Topic messages published here and relayed to peers (one per peer), by outcome.', labelNames: ['outcome'], registry }, () => [
      [{ outcome: 'sent' }, watch.relay.sent],
      [{ outcome: 'dropped' }, watch.relay.dropped],
    ]);
    return page;
  }
}
