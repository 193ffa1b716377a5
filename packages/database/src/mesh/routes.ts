import type { ServerResponse } from 'node:http';
import { parseJsonBody, readBody } from '../http/body';
import { drained, JSON_CONTENT_TYPE, sendJson } from '../http/reply';
import type { Router } from '../http/router';
import type { MeshAuth } from './auth';
import type { MeshService } from './service';

const NDJSON = 'application/x-ndjson; charset=utf-8';

export interface MeshRouteDeps {
  readonly service: MeshService;
  readonly auth: MeshAuth;
  /** MESH_MAX_BODY_BYTES: larger request bodies get 413. */
  readonly maxBodyBytes: number;
  /** SEND_TIMEOUT_MS: a pull answer or versions stream whose reader takes nothing for this long is cut. */
  readonly sendTimeoutMs: number;
}

/**
 * The routes peers use, over HTTP: `/ping` (membership; also the nkvd GET form) and
 * `/_mesh/*` (replication and anti-entropy, POST with JSON bodies, the only POST routes of
 * a node). The mesh secret is checked by a hook of each, before its handler; the work is
 * the MeshService's.
 */
export function registerMeshRoutes(router: Router, { service, auth, maxBodyBytes, sendTimeoutMs }: MeshRouteDeps): void {
  const hooks = [auth.hook];
  const POST = { methods: ['POST'], hooks, access: 'mesh' } as const;
  const body = async (ctx: { req: Parameters<typeof readBody>[0] }): Promise<unknown> => {
    const text = await readBody(ctx.req, maxBodyBytes);
    auth.checkBody(ctx.req, text);
    return parseJsonBody(text);
  };

  router.register(
    '/ping',
    async (ctx) => {
      const answer = ctx.method === 'POST' ? service.ping(await body(ctx)) : service.nkvdPing(ctx.query.get('nodes'));
      sendJson(ctx.res, 200, JSON.stringify(answer));
    },
    { methods: ['GET', 'HEAD', 'POST'], hooks, access: 'mesh' },
  );

  router.register('/_mesh/replicate', async (ctx) => sendJson(ctx.res, 200, JSON.stringify(await service.replicate(await body(ctx)))), POST);
  router.register('/_mesh/publish', async (ctx) => sendJson(ctx.res, 200, JSON.stringify(service.publish(await body(ctx)))), POST);
  router.register('/_mesh/digests', async (ctx) => sendJson(ctx.res, 200, JSON.stringify(service.digests(await body(ctx)))), POST);
  router.register('/_mesh/pull', async (ctx) => stream(ctx.res, JSON_CONTENT_TYPE, service.pull(await body(ctx))), POST);
  router.register('/_mesh/versions', async (ctx) => stream(ctx.res, NDJSON, service.versions(await body(ctx))), POST);

  /** Sends chunks as the socket drains; a peer that reads nothing for SEND_TIMEOUT_MS is cut. */
  async function stream(res: ServerResponse, type: string, chunks: AsyncIterable<string>): Promise<void> {
    res.writeHead(200, ['Content-Type', type]);
    for await (const chunk of chunks) {
      if (!res.write(chunk) && !(await drained(res, sendTimeoutMs))) return;
    }
    res.end();
  }
}
