import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ApiError } from '../errors';
import { readJsonBody } from '../http/body';
import { drained, sendJson } from '../http/reply';
import type { Router } from '../http/router';
import { encodeVersionLine, pullAnswer, toWire, type WireRecord } from '../record/codec';
import { BUCKETS } from '../store/digests';
import { bucketOf } from '../store/hash';
import type { Store } from '../store/store';
import type { MeshAuth } from './auth';
import type { Mesh } from './mesh';
import { readDigestsRequest, readPing, readPullRequest, readReplicate, readVersionsRequest } from './wire';

const NDJSON = 'application/x-ndjson; charset=utf-8';
const STREAM_CHUNK_CHARS = 64 * 1024;
const SCAN_SLICE = 2000;
/** `host:port` or `[v6]:port` in the nkvd ping form. */
const NKVD_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

export interface MeshRouteDeps {
  readonly mesh: Mesh;
  readonly store: Store;
  readonly auth: MeshAuth;
  /** MESH_MAX_BODY_BYTES: larger request bodies get 413. */
  readonly maxBodyBytes: number;
}

/**
 * The routes peers use: `/ping` (membership; also the nkvd GET form) and `/_mesh/*`
 * (replication and anti-entropy, POST with JSON bodies, the only POST routes of a node).
 * The mesh secret is checked by a hook of each, before its handler.
 */
export function registerMeshRoutes(router: Router, { mesh, store, auth, maxBodyBytes }: MeshRouteDeps): void {
  const hooks = [auth.hook];
  const POST = { methods: ['POST'], hooks };
  router.register(
    '/ping',
    async (ctx) => {
      if (ctx.method === 'POST') {
        const body = readPing(await readJsonBody(ctx.req, maxBodyBytes));
        sendJson(ctx.res, 200, JSON.stringify(mesh.onPing(body)));
        return;
      }
      const nodes = ctx.query.get('nodes');
      const hosts = nodes === undefined || nodes === '' ? [] : nodes.split('|');
      const badHost = hosts.find((host) => !NKVD_HOST.test(host));
      if (badHost !== undefined) {
        throw new ApiError('MALFORMED_QUERY', `nodes must be host:port entries separated by | (got "${badHost.slice(0, 100)}").`);
      }
      sendJson(ctx.res, 200, JSON.stringify(mesh.onNkvdPing(hosts)));
    },
    { methods: ['GET', 'HEAD', 'POST'], hooks },
  );

  router.register(
    '/_mesh/replicate',
    async (ctx) => {
      const body = readReplicate(await readJsonBody(ctx.req, maxBodyBytes));
      const outcome = mesh.receive(body);
      // Acknowledged only once on disk when writes wait for it: w=all then means that too.
      await store.durable();
      sendJson(ctx.res, 200, JSON.stringify(outcome));
    },
    POST,
  );

  router.register(
    '/_mesh/digests',
    async (ctx) => {
      const body = readDigestsRequest(await readJsonBody(ctx.req, maxBodyBytes));
      if (body.clear !== null) store.applyClear(body.clear, 'repaired');
      sendJson(
        ctx.res,
        200,
        JSON.stringify({
          buckets: BUCKETS,
          digests: store.digests.encode().toString('base64'),
          clear: store.clearWatermark ?? null,
        }),
      );
    },
    POST,
  );

  router.register(
    '/_mesh/versions',
    async (ctx) => {
      const body = readVersionsRequest(await readJsonBody(ctx.req, maxBodyBytes));
      const wanted = new Uint8Array(BUCKETS);
      for (const bucket of body.buckets) wanted[bucket] = 1;
      for (const bucket of body.full) wanted[bucket] = 2;
      const res = ctx.res;
      res.writeHead(200, ['Content-Type', NDJSON]);
      let chunk = '';
      let scanned = 0;
      for (const [key, head] of store.heads()) {
        if (++scanned % SCAN_SLICE === 0) await yieldToLoop();
        const want = wanted[bucketOf(key, BUCKETS)];
        if (want === 0) continue;
        chunk += encodeVersionLine(key, head, want === 2 ? (head.tombstone ? null : (store.get(key) ?? null)) : undefined);
        if (chunk.length >= STREAM_CHUNK_CHARS) {
          if (!res.write(chunk) && !(await drained(res))) return;
          chunk = '';
        }
      }
      res.end(chunk);
    },
    POST,
  );

  router.register(
    '/_mesh/pull',
    async (ctx) => {
      const body = readPullRequest(await readJsonBody(ctx.req, maxBodyBytes));
      const records: WireRecord[] = [];
      for (const key of body.keys) {
        const record = store.getRecord(key);
        if (record !== undefined) records.push(toWire(key, record));
      }
      sendJson(ctx.res, 200, JSON.stringify(pullAnswer(records)));
    },
    POST,
  );
}
