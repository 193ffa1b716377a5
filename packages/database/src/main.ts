#!/usr/bin/env node
// The database node as a process: configuration from the environment (and .env), then
// runService (start line, signals, exit codes). Everything else is in createNode.
import * as v8 from 'node:v8';
import { configOrExit, createLogger, runService } from '@meshkv/common';
import { loadConfig, readEnvironment, requireMeshSecurity } from './config';
import { createNode, type DatabaseNode } from './node';
import { StorageOpenError } from './storage/lmdb';

const config = configOrExit(() => requireMeshSecurity(loadConfig(readEnvironment())));
// Opt-in: V8's size-optimised mode keeps 1M records about 40 MB smaller but also
// optimises code less, costing about a third of the throughput (docs/api.md, Memory).
if (config.gcMode === 'compact') v8.setFlagsFromString('--optimize-for-size');
const logger = createLogger(config.logLevel, 'meshkv-database', {}, config.logFormat);
let node: DatabaseNode | undefined;
try {
  node = createNode(config, {
    logger,
    onFatal: (message) => {
      process.stderr.write(`${message}\n`);
      void node?.shutdown().finally(() => process.exit(1));
    },
  });
} catch (error) {
  if (!(error instanceof StorageOpenError)) throw error;
  logger.fatal({ err: error }, 'cannot open the storage');
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
const started = node;
logger.info({ nodeId: started.nodeId, incarnation: started.incarnation, storage: config.storage, ...started.storageOpen }, 'starting');
runService(
  {
    start: async () => {
      await started.listen();
      return { url: started.url, bindAddress: config.bindAddress };
    },
    stop: () => started.shutdown(),
  },
  logger,
  {
    startFailed: 'cannot listen',
    startFailedFields: { port: config.port, bind: config.bindAddress },
    stopping: 'shutting down', stoppingFields: { drainMs: config.shutdownDrainMs, timeoutMs: config.shutdownTimeoutMs } },
);
