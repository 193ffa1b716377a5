import * as fs from 'node:fs';
import { type MixEntry, parseMix } from './mix';

/** TLS for an https:// SERVICE_URL: the CA of the server's certificate, and a client certificate if it asks for one (PEM text). */
export interface StressTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface StressOptions {
  readonly serviceUrl: string;
  /** Requests in total; undefined when the run is bounded by `durationSeconds`. */
  readonly amount: number | undefined;
  readonly durationSeconds: number | undefined;
  /** Worker threads, each with its own connections. */
  readonly clusters: number;
  /** Requests in flight per worker thread (= its keep-alive connections). */
  readonly workers: number;
  readonly mix: MixEntry[];
  /** Keys are `stress-0` … `stress-(keys-1)`. */
  readonly keys: number;
  readonly valueLength: number;
  /** Exit non-zero when errors / requests is above this. */
  readonly maxErrorRate: number;
  readonly timeoutMs: number;
  readonly jsonFile: string | undefined;
  /** SERVICE_KEY: the API key every request carries (nodes with ADMIN_KEY). */
  readonly apiKey: string | undefined;
  /** Set for an https:// SERVICE_URL. */
  readonly tls: StressTls | undefined;
}

export const STRESS_DEFAULTS = {
  SERVICE_URL: 'http://127.0.0.1:8080',
  STRESS_AMOUNT: 10_000,
  STRESS_CLUSTERS: 1,
  STRESS_WORKERS: 50,
  STRESS_MIX: 'set:50,get:50',
  STRESS_KEYS: 10_000,
  STRESS_VALUE_LENGTH: 32,
  STRESS_MAX_ERROR_RATE: 0,
  STRESS_TIMEOUT_MS: 10_000,
} as const;

/** Longest run, whatever is asked: every loop is bounded in time as well as in count. */
export const MAX_DURATION_SECONDS = 3600;
const MAX_AMOUNT = 100_000_000;

/** Reads the environment and arguments (`--json FILE`); throws listing every problem. */
export function readStressOptions(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): StressOptions {
  const problems: string[] = [];
  const int = (name: keyof typeof STRESS_DEFAULTS, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return STRESS_DEFAULTS[name] as number;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return STRESS_DEFAULTS[name] as number;
    }
    return Number(raw);
  };
  const serviceUrl = (env.SERVICE_URL?.trim() || STRESS_DEFAULTS.SERVICE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#\s]+$/.test(serviceUrl)) problems.push(`SERVICE_URL must be an http:// or https:// URL without a path (got "${serviceUrl}")`);

  let durationSeconds: number | undefined;
  const rawDuration = env.STRESS_DURATION?.trim();
  if (rawDuration !== undefined && rawDuration !== '') {
    const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(rawDuration);
    const seconds = match === null ? NaN : Number(match[1]) * (match[2] === 'm' ? 60 : 1);
    if (!(seconds > 0 && seconds <= MAX_DURATION_SECONDS)) {
      problems.push(`STRESS_DURATION must be a time up to 1 hour, like 30, 30s or 2m (got "${rawDuration}")`);
    } else {
      durationSeconds = seconds;
    }
  }
  const amountSet = env.STRESS_AMOUNT !== undefined && env.STRESS_AMOUNT.trim() !== '';
  if (amountSet && durationSeconds !== undefined) problems.push('Set STRESS_AMOUNT or STRESS_DURATION, not both');
  const amount = durationSeconds === undefined ? int('STRESS_AMOUNT', 1, MAX_AMOUNT) : undefined;

  let mix: MixEntry[] = [];
  try {
    mix = parseMix(env.STRESS_MIX?.trim() || STRESS_DEFAULTS.STRESS_MIX);
  } catch (error) {
    problems.push((error as Error).message);
  }
  let maxErrorRate: number = STRESS_DEFAULTS.STRESS_MAX_ERROR_RATE;
  const rawRate = env.STRESS_MAX_ERROR_RATE?.trim();
  if (rawRate !== undefined && rawRate !== '') {
    maxErrorRate = /^(0(\.\d+)?|1(\.0+)?)$/.test(rawRate) ? Number(rawRate) : NaN;
    if (Number.isNaN(maxErrorRate)) problems.push(`STRESS_MAX_ERROR_RATE must be a fraction from 0 to 1, like 0.01 (got "${rawRate}")`);
  }

  const apiKey = env.SERVICE_KEY?.trim() || undefined;
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) problems.push('SERVICE_KEY must be printable ASCII without spaces');
  const tls: Record<string, string> = {};
  for (const [name, field] of [['SERVICE_CA_FILE', 'ca'], ['SERVICE_CERT_FILE', 'cert'], ['SERVICE_CERT_KEY_FILE', 'key']] as const) {
    const file = env[name]?.trim();
    if (file === undefined || file === '') continue;
    try {
      tls[field] = fs.readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${name} names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): ${file}`);
    }
  }

  let jsonFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--json') {
      jsonFile = argv[++i];
      if (jsonFile === undefined || jsonFile.startsWith('--')) problems.push('--json needs a file name');
    } else if (arg.startsWith('--json=')) {
      jsonFile = arg.slice('--json='.length);
    } else {
      problems.push(`unknown argument "${arg}" (the tool takes --json FILE; everything else is environment)`);
    }
  }

  const options: StressOptions = {
    serviceUrl,
    amount,
    durationSeconds,
    clusters: int('STRESS_CLUSTERS', 1, 64),
    workers: int('STRESS_WORKERS', 1, 10_000),
    mix,
    keys: int('STRESS_KEYS', 1, 100_000_000),
    valueLength: int('STRESS_VALUE_LENGTH', 0, 100_000),
    maxErrorRate: Number.isNaN(maxErrorRate) ? 0 : maxErrorRate,
    timeoutMs: int('STRESS_TIMEOUT_MS', 1, 600_000),
    jsonFile,
    apiKey,
    tls: serviceUrl.startsWith('https:') ? tls : undefined,
  };
  if (problems.length > 0) throw new StressConfigError(problems);
  return options;
}

export class StressConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stress settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'StressConfigError';
  }
}
