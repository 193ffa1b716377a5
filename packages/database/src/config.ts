import * as fs from 'node:fs';
import * as os from 'node:os';
import { TENANT_PREFIX_MAX } from './store/namespace';
import { parseSeed, type SeedSpec } from './mesh/seed-resolver';
import { ConfigError, type Env, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, SettingsReader } from '@meshkv/common';

export { ConfigError, type Env, readEnvironment } from '@meshkv/common';

/** Every setting of a database node, validated and frozen. */
export interface NodeConfig {
  readonly port: number;
  readonly bindAddress: string;
  readonly hostname: string;
  readonly advertiseUrl: string;
  /** Undefined means: pick a random id at start. */
  readonly nodeId: string | undefined;
  readonly maxKeyLength: number;
  readonly maxValueLength: number;
  /** ms, the longest expiry a write may ask for (`ttl`). */
  readonly maxTtlMs: number;
  /** Operations one POST /batch may hold. */
  readonly batchMaxOps: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly storage: 'memory' | 'lmdb';
  /** STORAGE=lmdb: the folder of the database file. */
  readonly dataDir: string;
  /** STORAGE=lmdb, DATA_SLOT: the node keeps its file in a slot of DATA_DIR shared with other nodes (storage/data-slot.ts). */
  readonly dataSlot: 'auto' | number | undefined;
  readonly durability: 'sync' | 'batch' | 'none';
  /** ms, DURABILITY=batch: longest time between a write and its commit to disk. */
  readonly durabilityIntervalMs: number;
  /** STORAGE=lmdb: bytes kept free on the disk; under this, writes are answered 507. */
  readonly minFreeDiskBytes: number;
  readonly maxUrlLength: number;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** ms a response may make no progress (a client that stopped reading) before it is cut. */
  readonly sendTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly shutdownDrainMs: number;
  readonly gcMode: 'compact' | 'throughput';
  readonly mesh: MeshConfig;
  readonly security: SecurityConfig;
  readonly tls: TlsConfig;
  readonly ui: UiConfig;
  readonly watch: WatchConfig;
}

/** Change feeds and topics (/watch, /subscribe; docs/watch.md). */
export interface WatchConfig {
  /** Events kept for watchers that resume. */
  readonly bufferEvents: number;
  /** About the bytes of keys and values those events may hold. */
  readonly bufferBytes: number;
  /** Watches and subscriptions open at once; more get 503. */
  readonly maxConnections: number;
  /** ms between two heartbeats of an open stream. */
  readonly heartbeatMs: number;
  /** Events of the node a stream whose connection is full may fall behind before it is cut. */
  readonly queueEvents: number;
}

/** The cluster page (/ui, docs/ui.md). */
export interface UiConfig {
  /** ms between two pictures of the cluster sent to an open page. */
  readonly intervalMs: number;
  /** The balancer's admin URL (its /stats); the page then shows its backends. */
  readonly balancerUrl: string | undefined;
  /** The balancer's ADMIN_TOKEN, when it has one. */
  readonly balancerToken: string | undefined;
}

/** Files of a certificate, its key, and a CA (PEM). */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string | undefined;
}

/**
 * TLS (docs/security.md). `clients`: the node serves HTTPS with this certificate, and with
 * a CA asks every client for a certificate from it. `mesh`: nodes talk to each other over
 * TLS and take mesh requests only from a node with a certificate from this CA.
 */
export interface TlsConfig {
  readonly clients: CertificateFiles | undefined;
  readonly mesh: (CertificateFiles & { readonly caFile: string }) | undefined;
  /** True when the node serves HTTPS (either of the above). */
  readonly enabled: boolean;
}

/** API keys, rate limits and quotas (docs/security.md). */
export interface SecurityConfig {
  /** ADMIN_KEY (or the text of ADMIN_KEY_FILE): with it every public route but /healthcheck takes a key; undefined: all open. */
  readonly adminKey: string | undefined;
  /** Requests a second per key and category when a key has no rate of its own; 0: no limit. */
  readonly rateLimit: number;
  /** RATE_LIMIT_SPLIT=true: each node allows a key's rate divided by the nodes alive, so the mesh as a whole allows about the rate. */
  readonly rateLimitSplit: boolean;
  /** Keys and bytes (of keys and values, UTF-8) a tenant may store, unless set for the tenant; 0: no quota. */
  readonly tenantMaxKeys: number;
  readonly tenantMaxBytes: number;
}

/** Membership, replication and anti-entropy settings (DESIGN 2.3-2.6). */
export interface MeshConfig {
  /** Seed URLs to ping (other nodes or a load balancer in front of them). */
  readonly seeds: readonly string[];
  /** Every seed of MESH_NETWORK_URL: those URLs, and DNS names that stand for many nodes. */
  readonly seedSpecs: readonly SeedSpec[];
  /** DNS_SERVERS: `host:port` of the DNS servers to ask for DNS seeds (none: the system's resolver). */
  readonly dnsServers: readonly string[];
  /** Undefined: mesh routes are open (a warning is logged at start). */
  readonly secret: string | undefined;
  /** MESH_INSECURE=true: run without MESH_SECRET on an address others can reach, on purpose. */
  readonly insecure: boolean;
  /** START_ALONE=true: a node whose seeds never answer starts a mesh of its own (else it waits, not ready, taking no writes). */
  readonly startAlone: boolean;
  /** ms a node with seeds waits for one to answer before it exits 1; 0: it waits for ever. */
  readonly joinTimeoutMs: number;
  readonly writeConcern: WriteCount;
  readonly writeTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly suspectAfterMs: number;
  readonly downAfterMs: number;
  readonly downPingIntervalMs: number;
  readonly forgetAfterMs: number;
  readonly requestTimeoutMs: number;
  readonly batchSize: number;
  readonly batchDelayMs: number;
  readonly retryMaxMs: number;
  readonly outboxMax: number;
  readonly aeIntervalMs: number;
  readonly tombstoneTtlMs: number;
  readonly maxClockDriftMs: number;
  readonly maxBodyBytes: number;
}

/** Longest client key in code points LMDB can store (1978 bytes, 4 per code point, plus a tag, less a tenant's prefix). */
export const LMDB_MAX_KEY_LENGTH = 494 - TENANT_PREFIX_MAX;
/** Bytes on the wire of one of the node's own records at most (an API key's, see auth/api-key). */
export const RESERVED_RECORD_BYTES = 2048;

/** The defaults, with their units. `.env.example` documents the same values. */
export const DEFAULTS = {
  PORT: 8100,
  BIND_ADDRESS: '0.0.0.0',
  MAX_KEY_LENGTH: 64, // code points, inclusive
  MAX_VALUE_LENGTH: 256, // code points, inclusive
  MAX_TTL_MS: 2592000000, // ms, the longest ttl a write may ask for (30 days)
  BATCH_MAX_OPS: 1000, // operations in one POST /batch; more gets 413
  LOG_LEVEL: 'info' as LogLevel,
  LOG_FORMAT: 'json' as LogFormat, // json: a JSON object a line; pretty: readable lines for a terminal
  STORAGE: 'memory' as 'memory' | 'lmdb', // memory: gone at exit; lmdb: on disk in DATA_DIR
  DATA_DIR: 'data', // folder of the lmdb database file (relative to the working directory), made if missing
  DATA_SLOT: '', // empty: DATA_DIR is this node's own; auto or N: nodes share DATA_DIR, each in a locked slot DATA_DIR/node-N
  DURABILITY: 'sync' as 'sync' | 'batch' | 'none', // lmdb: when a write is on disk (docs/operations.md)
  DURABILITY_INTERVAL_MS: 100, // ms, batch: longest time between a write and its commit
  MIN_FREE_DISK_MB: 64, // lmdb: MB kept free on the disk; under it writes get 507 until twice as much is free
  MAX_URL_LENGTH: 8192, // characters of the request target; longer gets 414
  MAX_CONNECTIONS: 10000, // open client sockets; more get 503 with Retry-After and are closed
  HEADERS_TIMEOUT_MS: 10000, // ms to receive the request headers, else 408
  REQUEST_TIMEOUT_MS: 30000, // ms to receive the whole request, else 408
  KEEP_ALIVE_TIMEOUT_MS: 5000, // ms an idle keep-alive connection stays open
  SEND_TIMEOUT_MS: 30000, // ms a response may wait for a client that does not read
  UI_INTERVAL_MS: 1000, // ms between two pictures of the cluster sent to an open /ui page
  UI_BALANCER_URL: '',
  WATCH_BUFFER_EVENTS: 100000, // events kept for watchers that resume (after= / Last-Event-ID)
  WATCH_BUFFER_MB: 64, // MiB, about the keys and values those events may hold; the oldest go first
  WATCH_MAX_CONNECTIONS: 5000, // watches and subscriptions open at once; more get 503 TOO_MANY_WATCHERS
  WATCH_HEARTBEAT_MS: 15000, // ms between two heartbeats (SSE comment, WebSocket ping) of an open stream
  WATCH_QUEUE_EVENTS: 10000, // events a stream whose connection is full may fall behind before it is cut (overflow) // the balancer's admin URL (http://host:8081): /ui then shows its backends
  SHUTDOWN_TIMEOUT_MS: 10000, // ms in-flight requests get after SIGTERM before sockets are cut
  GC_MODE: 'throughput' as 'compact' | 'throughput', // throughput: V8 defaults; compact: V8 --optimize-for-size, smaller and slower
  SHUTDOWN_DRAIN_MS: 0, // ms between SIGTERM and closing the listener, /healthcheck answering 503
  START_ALONE: 'false', // true: a node whose seeds never answer starts a mesh of its own
  JOIN_TIMEOUT_MS: 0, // ms a node with seeds waits for one to answer before exiting 1; 0: for ever
  WRITE_CONCERN: '1', // 1, N (nodes that must hold a write before the answer) or all
  WRITE_TIMEOUT_MS: 10000, // ms to wait for the acks of w before answering 504
  PING_INTERVAL_MS: 1000, // ms between two pings of each peer and seed
  PING_TIMEOUT_MS: 1000, // ms before a ping counts as failed
  SUSPECT_AFTER_MS: 3000, // ms without a successful ping before a peer is suspect
  DOWN_AFTER_MS: 10000, // ms without a successful ping before a peer is down
  DOWN_PING_INTERVAL_MS: 5000, // ms between pings of a down peer
  FORGET_AFTER_MS: 3600000, // ms without a successful ping before a peer is forgotten
  MESH_REQUEST_TIMEOUT_MS: 10000, // ms for a replication or anti-entropy request
  REPLICATION_BATCH: 1000, // records per replication request
  REPLICATION_DELAY_MS: 0, // ms a write waits for others to share its request (0: none beyond its event-loop turn)
  REPLICATION_RETRY_MAX_MS: 5000, // ms, cap of the backoff between failed replication requests
  OUTBOX_MAX: 100000, // records waiting for one peer; more and the peer gets a full anti-entropy round instead
  AE_INTERVAL_MS: 10000, // ms between two anti-entropy rounds
  TOMBSTONE_TTL_MS: 86400000, // ms a delete is remembered
  MAX_CLOCK_DRIFT_MS: 60000, // ms a remote version may be ahead of this node's clock
  MESH_MAX_BODY_BYTES: 33554432, // bytes of a request body on /_mesh/*; larger gets 413
  ADMIN_KEY: '', // empty: every route is open (a warning at start); set: every route but /healthcheck takes a key
  ADMIN_KEY_FILE: '', // a file holding ADMIN_KEY (a Docker or Kubernetes secret), instead of ADMIN_KEY
  MESH_SECRET_FILE: '', // a file holding MESH_SECRET (a Docker or Kubernetes secret), instead of MESH_SECRET
  RATE_LIMIT: 0, // requests a second per API key and category (read, write, admin), unless the key has its own; 0: none
  RATE_LIMIT_SPLIT: 'false', // true: each node allows the rate divided by the nodes alive
  TENANT_MAX_KEYS: 0, // keys a tenant may store, unless set for the tenant; 0: no quota
  TENANT_MAX_BYTES: 0, // bytes of keys and values a tenant may store, unless set for the tenant; 0: no quota
  TLS_CERT_FILE: '', // PEM certificate (chain) the node serves HTTPS with; with TLS_KEY_FILE
  TLS_KEY_FILE: '',
  TLS_CA_FILE: '', // set: every client must present a certificate from this CA
  MESH_TLS_CERT_FILE: '', // the node's certificate for the mesh (from MESH_TLS_CA_FILE), as client and, without TLS_CERT_FILE, as server
  MESH_TLS_KEY_FILE: '',
  MESH_TLS_CA_FILE: '', // set (with the two above): mesh requests only from nodes with a certificate from this CA
} as const;

/** Shortest ADMIN_KEY taken: a guessable admin key is no protection. */
export const MIN_ADMIN_KEY_LENGTH = 16;

/** Validates every setting at once; throws a ConfigError listing all problems. */
export function loadConfig(env: Env): NodeConfig {
  const read = new SettingsReader(env);
  const problems = read.problems;
  const readInt = (name: keyof typeof DEFAULTS, min: number, max: number): number => read.int(name, DEFAULTS[name] as number, min, max);

  const port = readInt('PORT', 0, 65535);
  const bindAddress = read.text('BIND_ADDRESS', DEFAULTS.BIND_ADDRESS);
  const hostname = read.text('HOSTNAME', os.hostname());
  const tls = readTls(read, problems);
  const scheme = tls.enabled ? 'https' : 'http';
  const advertiseUrl = read.text('ADVERTISE_URL', `${scheme}://${hostname}:${port}`);
  if (!/^https?:\/\/[^/?#]+$/.test(advertiseUrl.replace(/\/+$/, ''))) {
    problems.push(`ADVERTISE_URL must be an http:// URL with a host and port and no path (got "${advertiseUrl}")`);
  } else if (!advertiseUrl.startsWith(`${scheme}://`)) {
    problems.push(`ADVERTISE_URL must be an ${scheme}:// URL: the node serves ${scheme === 'https' ? 'HTTPS (TLS_CERT_FILE or MESH_TLS_*)' : 'plain HTTP (no TLS_CERT_FILE, no MESH_TLS_*)'} (got "${advertiseUrl}")`);
  }
  const nodeIdRaw = read.optional('NODE_ID');
  if (nodeIdRaw !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(nodeIdRaw)) {
    problems.push(`NODE_ID must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-' (got "${nodeIdRaw}")`);
  }
  const logLevel = read.oneOf('LOG_LEVEL', LOG_LEVELS, DEFAULTS.LOG_LEVEL);
  const storage = read.oneOf('STORAGE', ['memory', 'lmdb'] as const, DEFAULTS.STORAGE);
  const durability = read.oneOf('DURABILITY', ['sync', 'batch', 'none'] as const, DEFAULTS.DURABILITY);
  const dataDir = read.text('DATA_DIR', DEFAULTS.DATA_DIR);
  const dataSlot = readDataSlot(read.optional('DATA_SLOT'), problems);
  const gcMode = read.oneOf('GC_MODE', ['compact', 'throughput'] as const, DEFAULTS.GC_MODE);
  // An empty secret (or file) is none: the mesh routes are then open, with a warning.
  const meshSecret = readSecret('MESH_SECRET', env.MESH_SECRET === '' ? undefined : env.MESH_SECRET, read.optional('MESH_SECRET_FILE'), problems);
  const adminKey = readAdminKey(read.optional('ADMIN_KEY'), read.optional('ADMIN_KEY_FILE'), problems);

  const config: NodeConfig = {
    port,
    bindAddress,
    hostname,
    advertiseUrl: advertiseUrl.replace(/\/+$/, ''),
    nodeId: nodeIdRaw,
    maxKeyLength: readInt('MAX_KEY_LENGTH', 1, 1_000_000),
    maxValueLength: readInt('MAX_VALUE_LENGTH', 0, 100_000_000),
    maxTtlMs: readInt('MAX_TTL_MS', 1, 3_153_600_000_000),
    batchMaxOps: readInt('BATCH_MAX_OPS', 1, 100_000),
    logLevel,
    logFormat: read.oneOf('LOG_FORMAT', LOG_FORMATS, DEFAULTS.LOG_FORMAT),
    storage,
    dataDir,
    dataSlot,
    durability,
    durabilityIntervalMs: readInt('DURABILITY_INTERVAL_MS', 1, 60_000),
    minFreeDiskBytes: readInt('MIN_FREE_DISK_MB', 0, 1_000_000) * 1024 * 1024,
    maxUrlLength: readInt('MAX_URL_LENGTH', 64, 1_000_000),
    maxConnections: readInt('MAX_CONNECTIONS', 1, 1_000_000),
    headersTimeoutMs: readInt('HEADERS_TIMEOUT_MS', 1, 3_600_000),
    requestTimeoutMs: readInt('REQUEST_TIMEOUT_MS', 1, 3_600_000),
    keepAliveTimeoutMs: readInt('KEEP_ALIVE_TIMEOUT_MS', 1, 3_600_000),
    sendTimeoutMs: readInt('SEND_TIMEOUT_MS', 10, 3_600_000),
    shutdownTimeoutMs: readInt('SHUTDOWN_TIMEOUT_MS', 0, 3_600_000),
    shutdownDrainMs: readInt('SHUTDOWN_DRAIN_MS', 0, 3_600_000),
    gcMode,
    mesh: {
      ...readSeeds(env.MESH_NETWORK_URL, problems, scheme),
      dnsServers: readDnsServers(env.DNS_SERVERS, problems),
      secret: meshSecret === '' ? undefined : meshSecret,
      insecure: read.oneOf('MESH_INSECURE', ['true', 'false'] as const, 'false') === 'true',
      startAlone: read.oneOf('START_ALONE', ['true', 'false'] as const, 'false') === 'true',
      joinTimeoutMs: readInt('JOIN_TIMEOUT_MS', 0, 31_536_000_000),
      writeConcern: readWriteConcern(env.WRITE_CONCERN, problems),
      writeTimeoutMs: readInt('WRITE_TIMEOUT_MS', 1, 3_600_000),
      pingIntervalMs: readInt('PING_INTERVAL_MS', 10, 3_600_000),
      pingTimeoutMs: readInt('PING_TIMEOUT_MS', 10, 3_600_000),
      suspectAfterMs: readInt('SUSPECT_AFTER_MS', 10, 86_400_000),
      downAfterMs: readInt('DOWN_AFTER_MS', 10, 86_400_000),
      downPingIntervalMs: readInt('DOWN_PING_INTERVAL_MS', 10, 3_600_000),
      forgetAfterMs: readInt('FORGET_AFTER_MS', 10, 31_536_000_000),
      requestTimeoutMs: readInt('MESH_REQUEST_TIMEOUT_MS', 10, 3_600_000),
      batchSize: readInt('REPLICATION_BATCH', 1, 100_000),
      batchDelayMs: readInt('REPLICATION_DELAY_MS', 0, 60_000),
      retryMaxMs: readInt('REPLICATION_RETRY_MAX_MS', 10, 3_600_000),
      outboxMax: readInt('OUTBOX_MAX', 1, 100_000_000),
      aeIntervalMs: readInt('AE_INTERVAL_MS', 10, 86_400_000),
      tombstoneTtlMs: readInt('TOMBSTONE_TTL_MS', 1000, 31_536_000_000),
      maxClockDriftMs: readInt('MAX_CLOCK_DRIFT_MS', 0, 31_536_000_000),
      maxBodyBytes: readInt('MESH_MAX_BODY_BYTES', 1024, 1_073_741_824),
    },
    security: {
      adminKey,
      rateLimit: readInt('RATE_LIMIT', 0, 1_000_000),
      rateLimitSplit: read.oneOf('RATE_LIMIT_SPLIT', ['true', 'false'] as const, 'false') === 'true',
      tenantMaxKeys: readInt('TENANT_MAX_KEYS', 0, 1_000_000_000),
      tenantMaxBytes: readInt('TENANT_MAX_BYTES', 0, Number.MAX_SAFE_INTEGER),
    },
    tls,
    ui: {
      intervalMs: readInt('UI_INTERVAL_MS', 100, 3_600_000),
      balancerUrl: readBalancerUrl(read.optional('UI_BALANCER_URL'), problems),
      balancerToken: read.optional('UI_BALANCER_TOKEN'),
    },
    watch: {
      bufferEvents: readInt('WATCH_BUFFER_EVENTS', 1, 100_000_000),
      bufferBytes: readInt('WATCH_BUFFER_MB', 1, 1_000_000) * 1024 * 1024,
      maxConnections: readInt('WATCH_MAX_CONNECTIONS', 1, 1_000_000),
      heartbeatMs: readInt('WATCH_HEARTBEAT_MS', 10, 3_600_000),
      queueEvents: readInt('WATCH_QUEUE_EVENTS', 1, 100_000_000),
    },
  };
  const mesh = config.mesh;
  if (!(mesh.suspectAfterMs <= mesh.downAfterMs && mesh.downAfterMs <= mesh.forgetAfterMs)) {
    problems.push(
      `SUSPECT_AFTER_MS (${mesh.suspectAfterMs}) <= DOWN_AFTER_MS (${mesh.downAfterMs}) <= FORGET_AFTER_MS (${mesh.forgetAfterMs}) must hold`,
    );
  }
  if (config.requestTimeoutMs < config.headersTimeoutMs) {
    problems.push(
      `REQUEST_TIMEOUT_MS (${config.requestTimeoutMs}) must be at least HEADERS_TIMEOUT_MS (${config.headersTimeoutMs})`,
    );
  }
  // One record of the longest key (with a tenant's prefix) and value must fit in a
  // replicate body, and one of the node's own (an API key: RESERVED_RECORD_BYTES): a code
  // point is at most 2 UTF-16 units, each at most 6 bytes of JSON (see wireBytesAtMost).
  const recordBytes = Math.max(12 * (config.maxKeyLength + TENANT_PREFIX_MAX + config.maxValueLength), RESERVED_RECORD_BYTES) + 512;
  if (mesh.maxBodyBytes < recordBytes) {
    problems.push(`MESH_MAX_BODY_BYTES (${mesh.maxBodyBytes}) must be at least ${recordBytes} with MAX_KEY_LENGTH ${config.maxKeyLength} and MAX_VALUE_LENGTH ${config.maxValueLength}: one record of the longest key and value must fit in a replication request`);
  }
  if (config.storage === 'lmdb' && config.maxKeyLength > LMDB_MAX_KEY_LENGTH) {
    problems.push(`MAX_KEY_LENGTH must be at most ${LMDB_MAX_KEY_LENGTH} with STORAGE=lmdb (LMDB's key size limit, less a tenant's prefix; got ${config.maxKeyLength})`);
  }
  read.check();
  Object.freeze(config.mesh.seeds);
  Object.freeze(config.mesh.seedSpecs);
  Object.freeze(config.mesh.dnsServers);
  Object.freeze(config.mesh);
  Object.freeze(config.ui);
  return Object.freeze(config);
}

/**
 * A secret given as `NAME`, or as the first line of the file `NAME_FILE` names (a Docker or
 * Kubernetes secret; not both). The secret itself is never in a message.
 */
function readSecret(name: string, direct: string | undefined, file: string | undefined, problems: string[]): string | undefined {
  if (direct !== undefined && file !== undefined) {
    problems.push(`${name} and ${name}_FILE are both set: set one of them`);
    return undefined;
  }
  if (file === undefined) return direct;
  try {
    return fs.readFileSync(file, 'utf8').split(/\r?\n/)[0]?.trim() ?? '';
  } catch (error) {
    problems.push(`${name}_FILE names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): ${file}`);
    return undefined;
  }
}

/** ADMIN_KEY, or the first line of the file ADMIN_KEY_FILE names (not both); at least MIN_ADMIN_KEY_LENGTH characters. */
function readAdminKey(direct: string | undefined, file: string | undefined, problems: string[]): string | undefined {
  const key = readSecret('ADMIN_KEY', direct, file, problems);
  if (key !== undefined && (key.length < MIN_ADMIN_KEY_LENGTH || /\s/.test(key))) {
    // The key itself is never repeated in a message: messages end in logs.
    problems.push(`${file === undefined ? 'ADMIN_KEY' : 'ADMIN_KEY_FILE'} must be at least ${MIN_ADMIN_KEY_LENGTH} characters without spaces (got ${key.length}); make one with: openssl rand -hex 32`);
    return undefined;
  }
  return key === '' ? undefined : key;
}

/** The TLS settings: each group whole or absent, each file readable. */
function readTls(read: SettingsReader, problems: string[]): TlsConfig {
  const file = (name: string): string | undefined => {
    const path = read.optional(name);
    if (path === undefined) return undefined;
    try {
      fs.accessSync(path, fs.constants.R_OK);
    } catch (error) {
      problems.push(`${name} names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): ${path}`);
    }
    return path;
  };
  const [certFile, keyFile, caFile] = [file('TLS_CERT_FILE'), file('TLS_KEY_FILE'), file('TLS_CA_FILE')];
  const [meshCert, meshKey, meshCa] = [file('MESH_TLS_CERT_FILE'), file('MESH_TLS_KEY_FILE'), file('MESH_TLS_CA_FILE')];
  if ((certFile === undefined) !== (keyFile === undefined)) problems.push('TLS_CERT_FILE and TLS_KEY_FILE go together: set both, or neither');
  if (caFile !== undefined && certFile === undefined) problems.push('TLS_CA_FILE asks clients for certificates over HTTPS: set TLS_CERT_FILE and TLS_KEY_FILE too');
  const meshSet = [meshCert, meshKey, meshCa].filter((value) => value !== undefined).length;
  if (meshSet !== 0 && meshSet !== 3) problems.push('MESH_TLS_CERT_FILE, MESH_TLS_KEY_FILE and MESH_TLS_CA_FILE go together: set all three, or none');
  const clients = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, caFile } : undefined;
  const mesh = meshSet === 3 ? { certFile: meshCert as string, keyFile: meshKey as string, caFile: meshCa as string } : undefined;
  return { clients, mesh, enabled: clients !== undefined || mesh !== undefined };
}

/**
 * `MESH_NETWORK_URL`: comma-separated seeds: URLs, `host:port` (a URL of the nodes' scheme:
 * https when they serve TLS), `dns://name:port` and `dns+srv://name` (see SeedResolver).
 */
function readSeeds(raw: string | undefined, problems: string[], scheme: 'http' | 'https'): { seeds: string[]; seedSpecs: SeedSpec[] } {
  const seedSpecs: SeedSpec[] = [];
  for (const part of (raw ?? '').split(',')) {
    const text = part.trim();
    if (text === '') continue;
    const spec = parseSeed(text, scheme);
    if (typeof spec === 'string') problems.push(spec);
    else if (!seedSpecs.some((seen) => JSON.stringify(seen) === JSON.stringify(spec))) seedSpecs.push(spec);
  }
  return { seeds: seedSpecs.flatMap((spec) => (spec.kind === 'url' ? [spec.url] : [])), seedSpecs };
}

/** `DNS_SERVERS`: comma-separated `host:port` (or `[v6]:port`) of DNS servers. */
function readDnsServers(raw: string | undefined, problems: string[]): string[] {
  const servers: string[] = [];
  for (const part of (raw ?? '').split(',')) {
    const text = part.trim();
    if (text === '') continue;
    const match = /^(\[[0-9a-f:.]+\]|[0-9.]+|[a-z0-9.-]+):(\d{1,5})$/i.exec(text);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) problems.push(`DNS_SERVERS must list host:port entries, like 127.0.0.1:53 (got "${text}")`);
    else servers.push(text);
  }
  return servers;
}

/** `UI_BALANCER_URL`: an http(s) URL of the balancer's admin port, or nothing. */
function readBalancerUrl(raw: string | undefined, problems: string[]): string | undefined {
  const text = raw?.trim().replace(/\/+$/, '') ?? '';
  if (text === '') return undefined;
  if (!/^https?:\/\/[^/?#\s]+$/i.test(text)) {
    problems.push(`UI_BALANCER_URL must be the http:// URL of the balancer's admin port, like http://127.0.0.1:8081 (got "${text}")`);
    return undefined;
  }
  return text;
}

/** `DATA_SLOT`: empty (none), `auto`, or a slot number from 1. */
function readDataSlot(raw: string | undefined, problems: string[]): 'auto' | number | undefined {
  const text = raw?.trim().toLowerCase() ?? '';
  if (text === '') return undefined;
  if (text === 'auto') return 'auto';
  if (/^[1-9]\d{0,5}$/.test(text)) return Number(text);
  problems.push(`DATA_SLOT must be empty, "auto" or a slot number from 1 to 999999 (got "${raw}")`);
  return undefined;
}

/** How many nodes must hold a write: a number, every member (`all`), or more than half of them (`majority`). */
export type WriteCount = number | 'all' | 'majority';

/** `WRITE_CONCERN` and the `w` parameter: a whole number of nodes from 1, `all` or `majority`. */
export function parseWriteConcern(text: string): WriteCount | undefined {
  if (text === 'all' || text === 'majority') return text;
  if (!/^[1-9]\d{0,3}$/.test(text)) return undefined;
  return Number(text);
}

function readWriteConcern(raw: string | undefined, problems: string[]): WriteCount {
  if (raw === undefined || raw.trim() === '') return 1;
  const concern = parseWriteConcern(raw.trim().toLowerCase());
  if (concern === undefined) {
    problems.push(`WRITE_CONCERN must be a whole number from 1 to 9999, "all" or "majority" (got "${raw}")`);
    return 1;
  }
  return concern;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine reaches them. */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1' || address === 'localhost';
}

/**
 * What a process start requires beyond valid settings: a node that anyone on the network
 * can reach needs MESH_SECRET, or its mesh routes are open to all (the nkvd `?nodes=`
 * form would make it contact any address it is given). MESH_INSECURE=true says it is on
 * purpose. Throws a ConfigError naming the fix.
 */
export function requireMeshSecurity(config: NodeConfig): NodeConfig {
  if (config.mesh.secret !== undefined || config.mesh.insecure || isLoopback(config.bindAddress)) return config;
  throw new ConfigError([
    `MESH_SECRET is not set and BIND_ADDRESS (${config.bindAddress}) is reachable from other machines: anyone could use the mesh routes. ` +
      'Set MESH_SECRET to the same random secret on every node (for example: openssl rand -hex 32), or MESH_INSECURE=true to run open on purpose.',
  ]);
}
