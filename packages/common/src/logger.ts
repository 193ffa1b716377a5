import pino from 'pino';

export type Logger = pino.Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * JSON lines on stdout, one per event, each with `service` and the `bindings`. Written
 * synchronously: a service logs little at info level, and a line written is a line kept,
 * in order, even when the process exits right after.
 */
export function createLogger(level: LogLevel, service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}

/** For tests and embedding: drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
