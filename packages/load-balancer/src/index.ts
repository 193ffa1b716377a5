import { Balancer } from './balancer';
import { ConfigError, loadConfig, readEnvironment } from './config';
import { createLogger } from './logger';

function main(): void {
  let config;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const balancer = new Balancer(config, logger);
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
  balancer.start().then(
    () =>
      logger.info(
        {
          listen: `${config.bindAddress}:${balancer.address?.port}`,
          admin: balancer.adminAddress === undefined ? 'off' : `${config.adminBindAddress}:${balancer.adminAddress.port}`,
          discovery: config.backends === undefined ? `docker (${config.dockerApiLocation}, group ${config.groupName})` : 'static',
          pump: balancer.pumpUnavailable === undefined ? 'native' : `javascript (${balancer.pumpUnavailable.message})`,
        },
        'listening',
      ),
    (error: unknown) => {
      logger.fatal({ err: error }, 'cannot start');
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
    logger.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'draining');
    balancer.stop().then(
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

main();
