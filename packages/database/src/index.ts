import * as v8 from 'node:v8';
import { DatabaseNode } from './app';
import { ConfigError, loadConfig, readEnvironment } from './config';
import { createLogger } from './logger';
import { StorageOpenError } from './storage/lmdb';

function main(): void {
  let config;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  // Opt-in: V8's size-optimised mode keeps 1M records about 40 MB smaller but also
  // optimises code less, costing about a third of the throughput (docs/api.md, Memory).
  if (config.gcMode === 'compact') v8.setFlagsFromString('--optimize-for-size');
  const logger = createLogger(config.logLevel, { service: 'meshkv-database' });
  let node: DatabaseNode;
  try {
    node = new DatabaseNode(config, { logger });
  } catch (error) {
    if (!(error instanceof StorageOpenError)) throw error;
    logger.fatal({ err: error }, 'cannot open the storage');
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  logger.info({ nodeId: node.nodeId, incarnation: node.incarnation, storage: config.storage, ...node.storageOpen }, 'starting');

  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });

  node.listen().then(
    () => logger.info({ url: node.url, bindAddress: config.bindAddress }, 'listening'),
    (error: unknown) => {
      logger.fatal({ err: error, port: config.port, bind: config.bindAddress }, 'cannot listen');
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
    logger.info({ signal, drainMs: config.shutdownDrainMs, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    node.shutdown().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
