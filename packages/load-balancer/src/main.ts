#!/usr/bin/env node
// The load balancer as a process: configuration from the environment (and .env), then
// runService (start line, signals, exit codes). Everything else is in createBalancer.
import { configOrExit, createLogger, runService } from '@meshkv/common';
import { loadConfig, readEnvironment } from './config';
import { createBalancer } from './balancer';

const config = configOrExit(() => loadConfig(readEnvironment()));
const logger = createLogger(config.logLevel, 'meshkv-load-balancer', {}, config.logFormat);
const balancer = createBalancer(config, { logger });
runService(
  {
    start: async () => {
      await balancer.start();
      return {
        listen: `${config.bindAddress}:${balancer.address?.port}`,
        admin: balancer.adminAddress === undefined ? 'off' : `${config.adminBindAddress}:${balancer.adminAddress.port}`,
        discovery: config.backends === undefined ? `docker (${config.dockerApiLocation}, group ${config.groupName}, mode ${config.dockerMode})` : 'static',
        pump: balancer.pumpUnavailable === undefined ? 'native' : `javascript (${balancer.pumpUnavailable.message})`,
      };
    },
    stop: () => balancer.stop(),
  },
  logger,
  { startFailed: 'cannot start', stopping: 'draining', stoppingFields: { drainTimeoutMs: config.drainTimeoutMs } },
);
