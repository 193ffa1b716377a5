#!/usr/bin/env node
// The database node as a process: configuration from the environment (and .env), then
// runService (start line, signals, exit codes). Everything else is in createNode.
import * as v8 from 'node:v8';
import { configOrExit, createLogger, runService } from '@meshkv/common';
import { loadConfig, readEnvironment, requireMeshSecurity } from './config';
import { createNode, type DatabaseNode } from './node';
import { claimDataSlot } from './storage/data-slot';
import { StorageOpenError } from './storage/lmdb';

const config = configOrExit(() => requireMeshSecurity(loadConfig(readEnvironment())));
// Opt-in: V8's size-optimised mode keeps 1M records about 40 MB smaller but also
// optimises code less, costing about a third of the throughput (docs/api.md, Memory).
if (config.gcMode === 'compact') v8.setFlagsFromString('--optimize-for-size');
const logger = createLogger(config.logLevel, 'meshkv-database', {}, config.logFormat);

function refuse(error: unknown): never {
  if (!(error instanceof StorageOpenError)) throw error;
  logger.fatal({ err: error }, 'cannot open the storage');
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let node: DatabaseNode | undefined;
  const fatal = (message: string): void => {
    process.stderr.write(`${message}\n`);
    void (node?.shutdown() ?? Promise.resolve()).finally(() => process.exit(1));
  };
  // DATA_SLOT: a folder of DATA_DIR shared with other nodes, locked while this node runs.
  const slot =
    config.storage === 'lmdb' && config.dataSlot !== undefined
      ? await claimDataSlot(config.dataDir, config.dataSlot, {
          onLost: (error) => {
            logger.fatal({ err: error }, 'the lock of this node\'s data slot was lost: stopping');
            fatal(`the lock of this node's data slot in ${config.dataDir} was lost (${error.message}): another node may use the folder; stopping`);
          },
        }).catch(refuse)
      : undefined;
  try {
    node = createNode(slot === undefined ? config : { ...config, dataDir: slot.directory }, { logger, onFatal: fatal });
  } catch (error) {
    refuse(error);
  }
  const started = node;
  // SIGHUP: read the certificates again (kubectl or a cron job renewed them); nothing else stops.
  process.on('SIGHUP', () => started.reloadTls());
  logger.info(
    { nodeId: started.nodeId, incarnation: started.incarnation, storage: config.storage, ...(slot === undefined ? {} : { dataSlot: slot.slot, dataDir: slot.directory }), ...started.storageOpen },
    'starting',
  );
  runService(
    {
      start: async () => {
        await started.listen();
        return { url: started.url, bindAddress: config.bindAddress };
      },
      stop: () => started.shutdown().finally(() => slot?.release()),
    },
    logger,
    {
      startFailed: 'cannot listen',
      startFailedFields: { port: config.port, bind: config.bindAddress },
      stopping: 'shutting down', stoppingFields: { drainMs: config.shutdownDrainMs, timeoutMs: config.shutdownTimeoutMs } },
  );
}

void main();
