/**
 * The flags of the `node` process that runs a MeshKV node: `node <NODE_FLAGS> main.js`. The
 * Dockerfile, `npm start`, the tests and the bench all start it so (the Dockerfile writes
 * them out; a test checks it says the same). V8 flags: NODE_OPTIONS does not take them, and
 * `v8.setFlagsFromString` once running changes nothing (measured).
 *
 * `--min-semi-space-size=16`: V8's young generation, where every request's objects are
 * made, at its largest (32 MB) from the start. Without it a fresh node under load settled,
 * for its whole life, at one of two speeds a quarter apart (about one in three slow on the
 * bench's machine; bare `node:http` servers did not), and the slow ones had kept the young
 * generation at 16 MB. With it: 5 of 5 fresh nodes fast in the bench's order (a /get load,
 * a miss, then /set), 8 of 8 under /set alone. It costs no memory at 1,000,000 keys
 * (285.8 MB against 284.5) since the memory adapter's key index leaves no large garbage
 * behind when it grows (storage/key-slots.ts); with the `Map` it replaced, 306 MB.
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];
