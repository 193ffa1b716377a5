/**
 * The flags of the `node` process that runs a MeshKV node: `node <NODE_FLAGS> main.js`. The
 * Dockerfile, `npm start`, the tests and the bench all start it so (the Dockerfile writes
 * them out; a test checks it says the same). V8 flags: NODE_OPTIONS does not take them.
 *
 * `--no-allocation-site-pretenuring`: a fresh node under load settled, for its whole life,
 * at one of two speeds (fresh lone nodes under `/set`: 5 of 8 at 47,000–55,000 req/s, 3 at
 * 36,000–41,000, 25–35 % more CPU a request), and the slow ones had kept V8's young
 * generation (where every request's objects are made) at 16 MB where the fast ones had grown
 * it to 32. V8 grows it when enough of its objects survive a collection; pretenuring
 * (objects of a code site whose objects survived made straight in the old generation) takes
 * those survivors away, and a node that started pretenuring early never grew it. Without
 * pretenuring: 8 of 8 at 46,000–51,500 req/s, young generation 32 MB; 1,000,000 keys in
 * 293.8 MB (three loads: 299.4, 293.8, 293.8; 293.2 with it). Forcing the larger young
 * generation instead (`--min-semi-space-size=16`) was as fast and cost 306 MB.
 */
export const NODE_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];
