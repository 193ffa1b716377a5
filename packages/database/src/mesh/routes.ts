import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ApiError } from '../errors';
import { readJsonBody } from '../http/body';
import { drained, sendJson } from '../http/reply';
import type { Router } from '../http/router';
import type { Store } from '../store';
import type { MeshAuth } from './auth';
import { BUCKETS } from './digests';
import { bucketOf } from './hash';
import type { Mesh } from './mesh';
import { readDigestsRequest, readPing, readPullRequest, readReplicate, readVersionsRequest, type WireRecord } from './wire';

const POST = ['POST'];
const NDJSON = 'application/x-ndjson; charset=utf-8';
const STREAM_CHUNK_CHARS = 64 * 1024;
const SCAN_SLICE = 2000;
/** `host:port` or `[v6]:port` in the nkvd ping form. */
const NKVD_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/**
 * The routes peers use: `/ping` (membership; also the nkvd GET form) and `/_mesh/*`
 * (replication and anti-entropy, POST with JSON bodies, the only POST routes of a node).
 * Each checks the mesh secret first.
 */
export function registerMeshRoutes(router: Router, mesh: Mesh, store: Store, auth: MeshAuth, maxBodyBytes: number): void {
  router.register(
    '/ping',
    async (ctx) => {
      auth.check(ctx.req);
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
    { methods: ['GET', 'HEAD', 'POST'] },
  );

  router.register(
    '/_mesh/replicate',
    async (ctx) => {
      auth.check(ctx.req);
      const body = readReplicate(await readJsonBody(ctx.req, maxBodyBytes));
      const outcome = mesh.receive(body);
      // Acknowledged only once on disk when writes wait for it: w=all then means that too.
      await store.durable();
      sendJson(ctx.res, 200, JSON.stringify(outcome));
    },
    { methods: POST },
  );

  router.register(
    '/_mesh/digests',
    async (ctx) => {
      auth.check(ctx.req);
      const body = readDigestsRequest(await readJsonBody(ctx.req, maxBodyBytes));
      if (body.clear !== null) store.applyClear(body.clear);
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
    { methods: POST },
  );

  router.register(
    '/_mesh/versions',
    async (ctx) => {
      auth.check(ctx.req);
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
        if (want === 2) {
          const value = head.tombstone ? null : (store.get(key) ?? null);
          chunk += `${JSON.stringify([key, head.hlc, head.nodeId, head.tombstone ? 1 : 0, value])}\n`;
        } else {
          chunk += `${JSON.stringify([key, head.hlc, head.nodeId, head.tombstone ? 1 : 0])}\n`;
        }
        if (chunk.length >= STREAM_CHUNK_CHARS) {
          if (!res.write(chunk) && !(await drained(res))) return;
          chunk = '';
        }
      }
      res.end(chunk);
    },
    { methods: POST },
  );

  router.register(
    '/_mesh/pull',
    async (ctx) => {
      auth.check(ctx.req);
      const body = readPullRequest(await readJsonBody(ctx.req, maxBodyBytes));
      const records: WireRecord[] = [];
      for (const key of body.keys) {
        const record = store.getRecord(key);
        if (record !== undefined) records.push([key, record.value, record.hlc, record.nodeId]);
      }
      sendJson(ctx.res, 200, JSON.stringify({ records }));
    },
    { methods: POST },
  );
}
