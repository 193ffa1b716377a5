import pino from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout, written synchronously so the last lines survive an exit. */
export function createLogger(level: string): Logger {
  return pino(
    { level, base: { service: 'meshkv-load-balancer' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
