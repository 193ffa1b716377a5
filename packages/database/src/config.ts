import * as os from 'node:os';
import * as dotenv from 'dotenv';

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
  readonly logLevel: LogLevel;
  readonly storage: 'memory';
  readonly maxUrlLength: number;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly shutdownDrainMs: number;
  readonly gcMode: 'compact' | 'throughput';
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The defaults, with their units. `.env.example` documents the same values. */
export const DEFAULTS = {
  PORT: 8100,
  BIND_ADDRESS: '0.0.0.0',
  MAX_KEY_LENGTH: 64, // code points, inclusive
  MAX_VALUE_LENGTH: 256, // code points, inclusive
  LOG_LEVEL: 'info' as LogLevel,
  STORAGE: 'memory' as const,
  MAX_URL_LENGTH: 8192, // characters of the request target; longer gets 414
  MAX_CONNECTIONS: 10000, // open client sockets; more are dropped
  HEADERS_TIMEOUT_MS: 10000, // ms to receive the request headers, else 408
  REQUEST_TIMEOUT_MS: 30000, // ms to receive the whole request, else 408
  KEEP_ALIVE_TIMEOUT_MS: 5000, // ms an idle keep-alive connection stays open
  SHUTDOWN_TIMEOUT_MS: 10000, // ms in-flight requests get after SIGTERM before sockets are cut
  GC_MODE: 'throughput' as const, // throughput: V8 defaults; compact: V8 --optimize-for-size, smaller and slower
  SHUTDOWN_DRAIN_MS: 0, // ms between SIGTERM and closing the listener, /healthcheck answering 503
} as const;

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `.env` (without overriding variables already set) and returns the process
 * environment. This is the only place that touches `process.env`.
 */
export function readEnvironment(): Env {
  dotenv.config();
  return process.env;
}

/** Validates every setting at once; throws a ConfigError listing all problems. */
export function loadConfig(env: Env): NodeConfig {
  const problems: string[] = [];
  const readInt = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const fallback = DEFAULTS[name] as number;
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const text = raw.trim();
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(text);
  };
  const readString = (name: string, fallback: string): string => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
  };

  const port = readInt('PORT', 0, 65535);
  const bindAddress = readString('BIND_ADDRESS', DEFAULTS.BIND_ADDRESS);
  const hostname = readString('HOSTNAME', os.hostname());
  const advertiseUrl = readString('ADVERTISE_URL', `http://${hostname}:${port}`);
  if (!/^https?:\/\/[^/?#]+$/.test(advertiseUrl.replace(/\/+$/, ''))) {
    problems.push(`ADVERTISE_URL must be an http:// URL with a host and port and no path (got "${advertiseUrl}")`);
  }
  const nodeIdRaw = env.NODE_ID?.trim();
  if (nodeIdRaw !== undefined && nodeIdRaw !== '' && !/^[A-Za-z0-9._-]{1,64}$/.test(nodeIdRaw)) {
    problems.push(`NODE_ID must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-' (got "${nodeIdRaw}")`);
  }
  const logLevel = readString('LOG_LEVEL', DEFAULTS.LOG_LEVEL).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const storage = readString('STORAGE', DEFAULTS.STORAGE);
  if (storage !== 'memory') {
    problems.push(`STORAGE must be "memory" (got "${storage}")`);
  }

  const gcMode = readString('GC_MODE', DEFAULTS.GC_MODE);
  if (gcMode !== 'compact' && gcMode !== 'throughput') {
    problems.push(`GC_MODE must be "compact" or "throughput" (got "${gcMode}")`);
  }

  const config: NodeConfig = {
    port,
    bindAddress,
    hostname,
    advertiseUrl: advertiseUrl.replace(/\/+$/, ''),
    nodeId: nodeIdRaw === undefined || nodeIdRaw === '' ? undefined : nodeIdRaw,
    maxKeyLength: readInt('MAX_KEY_LENGTH', 1, 1_000_000),
    maxValueLength: readInt('MAX_VALUE_LENGTH', 0, 100_000_000),
    logLevel: logLevel as LogLevel,
    storage: 'memory',
    maxUrlLength: readInt('MAX_URL_LENGTH', 64, 1_000_000),
    maxConnections: readInt('MAX_CONNECTIONS', 1, 1_000_000),
    headersTimeoutMs: readInt('HEADERS_TIMEOUT_MS', 1, 3_600_000),
    requestTimeoutMs: readInt('REQUEST_TIMEOUT_MS', 1, 3_600_000),
    keepAliveTimeoutMs: readInt('KEEP_ALIVE_TIMEOUT_MS', 1, 3_600_000),
    shutdownTimeoutMs: readInt('SHUTDOWN_TIMEOUT_MS', 0, 3_600_000),
    shutdownDrainMs: readInt('SHUTDOWN_DRAIN_MS', 0, 3_600_000),
    gcMode: gcMode === 'compact' ? 'compact' : 'throughput',
  };
  if (config.requestTimeoutMs < config.headersTimeoutMs) {
    problems.push(
      `REQUEST_TIMEOUT_MS (${config.requestTimeoutMs}) must be at least HEADERS_TIMEOUT_MS (${config.headersTimeoutMs})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
