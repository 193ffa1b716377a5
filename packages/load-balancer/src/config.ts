import { type Env, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, SettingsReader } from '@meshkv/common';

export { ConfigError, type Env, readEnvironment } from '@meshkv/common';

/** Every setting of the balancer, validated and frozen. */
export interface BalancerConfig {
  readonly servicePort: number;
  readonly bindAddress: string;
  readonly groupPort: number;
  readonly groupName: string;
  /** Static discovery when set: `host:port` entries. Docker discovery otherwise. */
  readonly backends: readonly { host: string; port: number }[] | undefined;
  readonly dockerApiLocation: string;
  /** DOCKER_MODE: Compose containers or Swarm tasks (auto: Swarm when the balancer is a Swarm task). */
  readonly dockerMode: DockerMode;
  readonly networkName: string | undefined;
  /** 0 turns the admin port off. */
  readonly adminPort: number;
  readonly adminBindAddress: string;
  /** ADMIN_TOKEN: when set, /stats takes `Authorization: Bearer <token>` (/healthcheck stays open). */
  readonly adminToken: string | undefined;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly downForMs: number;
  readonly maxPendingBytes: number;
  readonly drainTimeoutMs: number;
  readonly debounceMs: number;
  readonly summaryIntervalMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Who moves the bytes of joined connections: the native pump when built (auto), or JavaScript. */
  readonly pump: PumpMode;
  /** BALANCER_CONTAINER_ID (or HOSTNAME): inside a container, its id, which lets the balancer find its own project. */
  readonly selfId: string | undefined;
}

export type PumpMode = 'auto' | 'native' | 'javascript';
const PUMP_MODES: readonly PumpMode[] = ['auto', 'native', 'javascript'];
export type DockerMode = 'auto' | 'compose' | 'swarm';
const DOCKER_MODES: readonly DockerMode[] = ['auto', 'compose', 'swarm'];

export const DEFAULTS = {
  SERVICE_PORT: 8080, // port clients connect to
  BALANCER_BIND_ADDRESS: '0.0.0.0', // address SERVICE_PORT listens on (old name, read when unset: BIND_ADDRESS)
  GROUP_PORT: 8100, // port of the backends
  GROUP_NAME: 'database', // compose service whose containers are the backends (Swarm: the service <stack>_GROUP_NAME)
  DOCKER_API_LOCATION: '/var/run/docker.sock', // unix socket path, or http://host:port
  DOCKER_MODE: 'auto' as DockerMode, // compose: containers; swarm: tasks (a manager's API); auto: swarm when the balancer is a Swarm task
  ADMIN_PORT: 8081, // JSON stats on GET /stats; 0 turns it off
  ADMIN_BIND_ADDRESS: '127.0.0.1', // address ADMIN_PORT listens on
  ADMIN_TOKEN: '', // set (16 characters or more): /stats takes Authorization: Bearer <token>
  CONNECT_TIMEOUT_MS: 1000, // ms to connect to a backend before trying the next
  IDLE_TIMEOUT_MS: 300000, // ms without a byte either way before a connection is closed
  HEALTH_INTERVAL_MS: 500, // ms between TCP health checks of each backend
  HEALTH_TIMEOUT_MS: 500, // ms a health check may take
  DOWN_FOR_MS: 2000, // ms a backend that refused a connection is skipped
  MAX_PENDING_BYTES: 65536, // bytes of a client's request kept while its backend connects
  DRAIN_TIMEOUT_MS: 10000, // ms open connections get after SIGTERM before they are cut
  DEBOUNCE_MS: 100, // ms of quiet in Docker events before the containers are listed again
  SUMMARY_INTERVAL_MS: 60000, // ms between two summary log lines; 0 turns them off
  BALANCER_LOG_LEVEL: 'info' as LogLevel, // (old name, read when unset: LOG_LEVEL)
  LOG_FORMAT: 'json' as LogFormat, // json, or pretty: readable lines for a terminal (shared with the node)
  PUMP: 'auto' as PumpMode, // auto: the native pump when built, else JavaScript; native: refuse to start without it; javascript
} as const;

/**
 * Settings the database node reads too, under the same names, when both share one `.env`.
 * The balancer's own names win; the old ones are still read when those are unset.
 */
export const SHARED_NAME_ALIASES = {
  BALANCER_BIND_ADDRESS: 'BIND_ADDRESS',
  BALANCER_LOG_LEVEL: 'LOG_LEVEL',
  BALANCER_CONTAINER_ID: 'HOSTNAME',
} as const;

/** Validates every setting at once; throws a ConfigError listing all problems. */
export function loadConfig(env: Env): BalancerConfig {
  const read = new SettingsReader(env);
  const int = (name: keyof typeof DEFAULTS, min: number, max: number): number => read.int(name, DEFAULTS[name] as number, min, max);
  const text = (name: keyof typeof DEFAULTS): string => read.text(name, String(DEFAULTS[name]));

  let backends: { host: string; port: number }[] | undefined;
  const rawBackends = read.optional('BACKENDS');
  if (rawBackends !== undefined) {
    backends = [];
    for (const entry of rawBackends.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const parsed = parseHostPort(entry);
      if (parsed === undefined) read.problem(`BACKENDS must list host:port entries, comma-separated (got "${entry}")`);
      else backends.push(parsed);
    }
  }
  const groupName = text('GROUP_NAME');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(groupName)) read.problem(`GROUP_NAME must be a Compose or Swarm service name (got "${groupName}")`);

  const config: BalancerConfig = {
    servicePort: int('SERVICE_PORT', 0, 65535),
    bindAddress: read.text(['BALANCER_BIND_ADDRESS', SHARED_NAME_ALIASES.BALANCER_BIND_ADDRESS], DEFAULTS.BALANCER_BIND_ADDRESS),
    groupPort: int('GROUP_PORT', 1, 65535),
    groupName,
    backends,
    dockerApiLocation: text('DOCKER_API_LOCATION'),
    dockerMode: read.oneOf('DOCKER_MODE', DOCKER_MODES, DEFAULTS.DOCKER_MODE),
    networkName: read.optional('NETWORK_NAME'),
    adminPort: int('ADMIN_PORT', 0, 65535),
    adminBindAddress: text('ADMIN_BIND_ADDRESS'),
    adminToken: readToken(read),
    connectTimeoutMs: int('CONNECT_TIMEOUT_MS', 1, 600_000),
    idleTimeoutMs: int('IDLE_TIMEOUT_MS', 1, 86_400_000),
    healthIntervalMs: int('HEALTH_INTERVAL_MS', 10, 3_600_000),
    healthTimeoutMs: int('HEALTH_TIMEOUT_MS', 1, 600_000),
    downForMs: int('DOWN_FOR_MS', 0, 3_600_000),
    maxPendingBytes: int('MAX_PENDING_BYTES', 1024, 1_073_741_824),
    drainTimeoutMs: int('DRAIN_TIMEOUT_MS', 0, 3_600_000),
    debounceMs: int('DEBOUNCE_MS', 0, 60_000),
    summaryIntervalMs: int('SUMMARY_INTERVAL_MS', 0, 86_400_000),
    logLevel: read.oneOf(['BALANCER_LOG_LEVEL', SHARED_NAME_ALIASES.BALANCER_LOG_LEVEL], LOG_LEVELS, DEFAULTS.BALANCER_LOG_LEVEL),
    logFormat: read.oneOf('LOG_FORMAT', LOG_FORMATS, DEFAULTS.LOG_FORMAT),
    pump: read.oneOf('PUMP', PUMP_MODES, DEFAULTS.PUMP),
    selfId: read.optional(['BALANCER_CONTAINER_ID', SHARED_NAME_ALIASES.BALANCER_CONTAINER_ID]),
  };
  read.check();
  if (config.backends !== undefined) Object.freeze(config.backends);
  return Object.freeze(config);
}

/** ADMIN_TOKEN: at least 16 characters without spaces (never repeated in the message). */
function readToken(read: SettingsReader): string | undefined {
  const token = read.optional('ADMIN_TOKEN');
  if (token !== undefined && (token.length < 16 || /\s/.test(token))) {
    read.problem(`ADMIN_TOKEN must be at least 16 characters without spaces (got ${token.length}); make one with: openssl rand -hex 32`);
    return undefined;
  }
  return token;
}

/** `host:port` or `[v6]:port`; undefined when unreadable. */
export function parseHostPort(entry: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(entry);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}
