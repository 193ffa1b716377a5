/**
 * @meshkv/database as a library: importing it starts nothing. `createNode(config)` builds a
 * node (storage opened, routes wired) that listens when asked; `main.ts` is the process.
 */
export { DEFAULTS, loadConfig, type MeshConfig, type NodeConfig } from './config';
export { createNode, DatabaseNode, type NodeDependencies } from './node';
export { NODE_FLAGS } from './node-flags';
export * as recordCodec from './record/codec';
export type { StoredRecord } from './record/record';
export { StorageOpenError } from './storage/lmdb';

// `node dist/index.js` ran the node before main.js existed; it still does.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- only when run as a program, never on import
if (require.main === module) require('./main');
