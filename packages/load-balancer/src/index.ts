/**
 * @meshkv/load-balancer as a library: importing it starts nothing. `createBalancer(config,
 * { logger })` builds a balancer that listens when started; `main.ts` is the process.
 */
export { Balancer, type BalancerDependencies, createBalancer } from './balancer';
export { type BalancerConfig, DEFAULTS, loadConfig } from './config';
export type { Backend, Discovery } from './discovery/discovery';

// `node dist/index.js` ran the balancer before main.js existed; it still does.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- only when run as a program, never on import
if (require.main === module) require('./main');
