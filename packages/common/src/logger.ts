import pino from 'pino';
import pretty from 'pino-pretty';

export type Logger = pino.Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_FORMAT: `json`, one JSON object a line (for machines); `pretty`, readable lines (for a terminal). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Lines on stdout, one per event, each with `service` and the `bindings`: JSON, or with
 * `pretty` the same events as readable lines (pino-pretty, in this process). Written
 * synchronously: a service logs little at info level, and a line written is a line kept,
 * in order, even when the process exits right after.
 */
export function createLogger(level: LogLevel, service: string, bindings: Record<string, unknown> = {}, format: LogFormat = 'json'): Logger {
  const options = { level, base: { service, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'json') return pino(options, pino.destination({ dest: 1, sync: true }));
  return pino(options, pretty({ destination: 1, sync: true, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', messageFormat: '{service}: {msg}', singleLine: true }));
}

/** For tests and embedding: drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
