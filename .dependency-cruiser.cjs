'use strict';
/**
 * Layering rules, checked by `npm run lint` (dependency-cruiser). Inside the database node
 * the layers are, from the bottom: record, clock, storage, store, http; auth; watch (change feeds);
 * then mesh and api;
 * then metrics, which reads them all; then the wiring (node, main, index). A module may import its own layer and the ones below.
 */
const DB = '^packages/database/src/';

/** A rule that `layer` imports none of `above`. */
const below = (layer, above, why) => ({
  name: `${layer}-imports-no-upper-layer`,
  comment: why,
  severity: 'error',
  from: { path: `${DB}${layer}/` },
  to: { path: `${DB}(${above.join('|')})(/|\\.ts$)` },
});

module.exports = {
  forbidden: [
    below('record', ['clock', 'storage', 'store', 'http', 'mesh', 'api', 'app', 'metrics', 'config'], 'A record and its codec depend on nothing: every layer uses them.'),
    below('clock', ['storage', 'store', 'http', 'mesh', 'api', 'app', 'metrics', 'config'], 'The clock is below everything that stamps versions.'),
    below('storage', ['clock', 'store', 'http', 'mesh', 'api', 'app', 'metrics', 'config'], 'Adapters keep what they are given; the store above decides.'),
    below('store', ['http', 'mesh', 'api', 'app', 'metrics'], 'The store owns its bookkeeping; the mesh and the API use it, never the reverse.'),
    below('http', ['record', 'storage', 'store', 'mesh', 'api', 'app', 'metrics', 'auth'], 'The HTTP layer knows requests, not records or replication.'),
    below('auth', ['mesh', 'api', 'app', 'metrics', 'watch'], 'Keys and who presents them: the API asks, auth never imports it.'),
    below('watch', ['mesh', 'api', 'app', 'metrics', 'ui'], 'Change feeds read the store; the routes (api) and the relay of topics (mesh) use them, never the reverse.'),
    {
      name: 'nothing-imports-metrics',
      comment: 'Metrics read every layer when scraped; only the wiring (node.ts) builds them.',
      severity: 'error',
      from: { path: `${DB}(?!metrics/|node\\.ts$)` },
      to: { path: `${DB}metrics/` },
    },
    {
      name: 'api-and-mesh-apart',
      comment: 'The public API and the mesh meet only in the wiring (app.ts), through small interfaces.',
      severity: 'error',
      from: { path: `${DB}api/` },
      to: { path: `${DB}mesh/(?!write-concern)` },
    },
    {
      name: 'no-circular',
      comment: 'A cycle means two modules are one concept, or a seam is missing.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-through-their-entry',
      comment: 'A package uses another only through its published entry (index.ts), never its files.',
      severity: 'error',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/([^/]+)/src/', pathNot: '^packages/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|test-build|coverage|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
  },
};
