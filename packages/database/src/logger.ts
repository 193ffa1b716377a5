import pino from 'pino';
import type { LogLevel } from './config';

export type Logger = pino.Logger;

/** JSON lines on stdout, one per event; `bindings` go on every line. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime });
}

/** For tests and embedding: drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
