#!/usr/bin/env node
// A backup of a node's records while it runs (or not): a consistent copy of its LMDB file
// (docs/deploy.md, Backup and restore).
//   node packages/database/dist/backup.js [--data-dir DIR] TARGET
// DIR defaults to the DATA_DIR of the environment (and .env), the node's own folder unless
// DATA_SLOT is set. Prints one JSON line; exits 0, 1 when the copy fails, 2 on a usage error.
import { readEnvironment } from '@meshkv/common';
import { DEFAULTS } from './config';
import { backupDataFile, StorageOpenError } from './storage/lmdb';

const USAGE = 'usage: node packages/database/dist/backup.js [--data-dir DIR] TARGET   (TARGET: a file that does not exist yet)';

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

async function main(args: readonly string[]): Promise<void> {
  let dataDir: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--data-dir') {
      dataDir = args[++i];
      if (dataDir === undefined || dataDir === '') usage('--data-dir needs a folder');
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return;
    } else if (arg.startsWith('-')) {
      usage(`unknown option ${arg}`);
    } else {
      rest.push(arg);
    }
  }
  if (rest.length !== 1) usage('name one TARGET file');
  const env = readEnvironment();
  if (dataDir === undefined && (env.DATA_SLOT ?? '') !== '') usage(`DATA_SLOT=${env.DATA_SLOT ?? ''}: the node's folder is a slot of DATA_DIR; name it with --data-dir (its /status storageOpen.dataDir)`);
  const directory = dataDir ?? (env.DATA_DIR === undefined || env.DATA_DIR === '' ? DEFAULTS.DATA_DIR : env.DATA_DIR);
  try {
    process.stdout.write(`${JSON.stringify(await backupDataFile(directory, rest[0] as string))}\n`);
  } catch (error) {
    if (!(error instanceof StorageOpenError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

void main(process.argv.slice(2));
