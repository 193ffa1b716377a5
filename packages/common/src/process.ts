import type { Logger } from './logger';
import { ConfigError } from './settings';

/** What runService runs: a service built but not started. */
export interface Service {
  /** Starts listening; resolves with the fields of the start line ("listening"). */
  start(): Promise<Record<string, unknown>>;
  /** Stops gracefully; the process exits 0 once it resolves, 1 if it rejects. */
  stop(): Promise<void>;
}

export interface ServiceMessages {
  /** The log line when `start` fails, before exit 1 (default "cannot start"), and its fields. */
  readonly startFailed?: string;
  readonly startFailedFields?: Record<string, unknown>;
  /** The log line at the first SIGTERM or SIGINT (default "stopping"). */
  readonly stopping?: string;
  /** Fields for the stopping line (timeouts the stop will honour). */
  readonly stoppingFields?: Record<string, unknown>;
}

/**
 * Reads a service's configuration, or explains on stderr why it cannot and exits 1. A
 * ConfigError lists every problem; anything else is a bug and is thrown.
 */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

/**
 * The life of a service process: start it ("listening", or exit 1), log an uncaught
 * exception and exit 1, and stop it gracefully at SIGTERM or SIGINT (exit 0 once stopped,
 * 1 if the stop fails); a second signal exits 1 at once.
 */
export function runService(service: Service, logger: Logger, messages: ServiceMessages = {}): void {
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
  service.start().then(
    (fields) => logger.info(fields, 'listening'),
    (error: unknown) => {
      logger.fatal({ err: error, ...messages.startFailedFields }, messages.startFailed ?? 'cannot start');
      process.exit(1);
    },
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, ...messages.stoppingFields }, messages.stopping ?? 'stopping');
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
