import pino from 'pino';
import type { LogLevel } from './config';

export type Logger = pino.Logger;

/**
 * JSON lines on stdout, one per event; `bindings` go on every line. Written synchronously:
 * a node logs little at info level, and a line written is a line kept, in order, even
 * when the process exits right after.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}

/** For tests and embedding: drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
