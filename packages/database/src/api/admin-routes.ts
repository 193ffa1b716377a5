import type { ClockStatus, MeshStats, NodeIndex, NodeStatus, PeerStatus, StorageOpen, TombstonePurgeStatus } from '@meshkv/client';
import { sendJson } from '../http/reply';
import type { Router } from '../http/router';
import type { Store } from '../store/store';
import type { Limits } from './params';

export interface NodeIdentity {
  readonly version: string;
  readonly hostname: string;
  readonly port: () => number;
  readonly nodeId: string;
  /** The node's incarnation now (it may grow while the node runs, see Pinger.learn). */
  readonly incarnation: () => number;
  readonly advertiseUrl: () => string;
  readonly storage: NodeStatus['storage'];
  /** What opening the storage found: records, time taken, and its settings. */
  readonly storageOpen: StorageOpen;
  readonly startedAt: number; // ms since the epoch
  readonly now: () => number;
}

/** What /status and /healthcheck read of the HTTP server. */
export interface ServerView {
  readonly shuttingDown: boolean;
  readonly connections: number;
}

/** What /status reads of the mesh. */
export interface MeshView {
  readonly isReady: boolean;
  peerStatus(): PeerStatus[];
  clockStatus(): ClockStatus;
  purgeStatus(): TombstonePurgeStatus;
  joinStatus(): NodeStatus['join'];
  readonly stats: MeshStats;
}

export interface AdminRouteDeps {
  readonly server: ServerView;
  readonly store: Store;
  readonly mesh: MeshView;
  readonly limits: Limits;
  readonly identity: NodeIdentity;
}

const HEALTHY = '{"status":"ok"}';
const SHUTTING_DOWN = JSON.stringify({
  status: 'shutting_down',
  error: 'SHUTTING_DOWN',
  message: 'The node is shutting down.',
});

const READY = '{"status":"ready"}';
const NOT_READY = JSON.stringify({
  status: 'not_ready',
  error: 'NOT_READY',
  message: 'The node takes no traffic yet: it has not joined its mesh or not caught up, its clock or storage is at fault, or it is shutting down; /status tells which.',
});

/** The public routes `/` lists; the mesh's own (`/ping`, `/_mesh/*`) are for nodes. */
const isPublic = (path: string): boolean => path !== '/ping' && !path.startsWith('/_mesh/');

/** `/`, /healthcheck, /ready and /status. */
export function registerAdminRoutes(router: Router, { server, store, mesh, limits, identity }: AdminRouteDeps): void {
  // A short index for whoever opens the node's URL: what it is, and where to go.
  router.register('/', (ctx) => {
    const routes = router
      .list()
      .filter((route) => isPublic(route.path))
      .map((route) => ({ path: route.pattern, methods: route.allow }));
    const index: NodeIndex = { service: 'meshkv', version: identity.version, nodeId: identity.nodeId, docs: 'docs/api.md', routes };
    sendJson(ctx.res, 200, JSON.stringify(index));
  }, { access: 'any' });

  router.register('/healthcheck', (ctx) => {
    if (server.shuttingDown) sendJson(ctx.res, 503, SHUTTING_DOWN);
    else sendJson(ctx.res, 200, HEALTHY);
  }, { access: 'open' });

  // Readiness, open like /healthcheck (an orchestrator's probe has no key): what /status
  // calls `ready`. /healthcheck stays the liveness check: a node that is not ready is alive.
  const ready = (): boolean => mesh.isReady && store.storageFault === undefined && !server.shuttingDown;
  router.register('/ready', (ctx) => {
    if (ready()) sendJson(ctx.res, 200, READY);
    else sendJson(ctx.res, 503, NOT_READY);
  }, { access: 'open' });

  router.register('/status', (ctx) => {
    const now = identity.now();
    const memory = process.memoryUsage();
    // Typed by the client package: /status is its contract.
    const status: NodeStatus = {
      version: identity.version,
      hostname: identity.hostname,
      port: identity.port(),
      maxKeyLength: limits.maxKeyLength,
      maxValueLength: limits.maxValueLength,
      availableRecords: store.liveCount,
      tombstones: store.tombstoneCount,
      expiry: { expiring: store.expiringCount, expired: store.expiredCount, maxTtlMs: limits.maxTtlMs },
      nodeId: identity.nodeId,
      incarnation: identity.incarnation(),
      advertiseUrl: identity.advertiseUrl(),
      storage: identity.storage,
      storageOpen: identity.storageOpen,
      storageFault: store.storageFault ?? null,
      ready: ready(),
      shuttingDown: server.shuttingDown,
      connections: server.connections,
      uptimeMs: now - identity.startedAt,
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
      clearWatermark: store.clearWatermark ?? null,
      peers: mesh.peerStatus(),
      clock: mesh.clockStatus(),
      tombstonePurge: mesh.purgeStatus(),
      join: mesh.joinStatus(),
      mesh: mesh.stats,
    };
    sendJson(ctx.res, 200, JSON.stringify(status));
  }, { access: 'node' });
}
