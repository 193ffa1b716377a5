import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { ClusterPicture } from '@meshkv/client';
import type { Scheduler, Timer } from '../clock/scheduler';
import { ApiError } from '../errors';
import { sendError } from '../http/reply';
import type { Router } from '../http/router';
import { packagePath } from '../package-version';
import type { RecentChanges } from './recent-changes';

export interface ClusterPageDeps {
  readonly picture: () => ClusterPicture;
  readonly changes: RecentChanges;
  readonly scheduler: Scheduler;
  readonly intervalMs: number;
  /** Where the page's files are (default: the package's ui folder). */
  readonly assetsDir?: string;
}

/** Bytes a stream may have waiting for its page before it is cut. */
const MAX_BUFFERED = 1024 * 1024;
const ASSETS: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };

/**
 * The cluster page: `/ui` (the page, open: it holds no data), `/ui/app.js` and
 * `/ui/app.css`, and `/ui/events`, a server-sent event stream (a key with `read` and no
 * tenant when keys are required, as for /status: EventSource sends it as `key=`). Every
 * open stream gets a `picture` of the cluster every UI_INTERVAL_MS and the store's
 * `changes` since the last one; one timer serves every stream, and none runs while no
 * page is open.
 */
export class ClusterPage {
  private readonly streams = new Set<ServerResponse>();
  private readonly files = new Map<string, Buffer>();
  private timer: Timer | undefined;
  private stopWatching: (() => void) | undefined;

  /** Why the page's files could not be read, if they could not: the node runs without its page. */
  readonly missing: string | undefined;

  constructor(private readonly deps: ClusterPageDeps) {
    try {
      // Read once: a page that does not change while the node runs.
      const dir = deps.assetsDir ?? packagePath('ui');
      for (const name of Object.keys(ASSETS)) this.files.set(name, fs.readFileSync(path.join(dir, name)));
    } catch (error) {
      this.files.clear();
      this.missing = `the cluster page's files cannot be read (${(error as Error).message}): install the package with its ui folder`;
    }
  }

  register(router: Router): void {
    router.register('/ui', (ctx) => this.sendFile(ctx.res, 'index.html'), { access: 'open' });
    router.register(
      '/ui/',
      (ctx) => {
        const name = ctx.path.slice('/ui/'.length);
        if (name === '') this.sendFile(ctx.res, 'index.html');
        else if (this.files.has(name)) this.sendFile(ctx.res, name);
        else sendError(ctx.res, new ApiError('NOT_FOUND', `The cluster page has no file ${name.slice(0, 64)}: it has /ui, /ui/app.js, /ui/app.css and /ui/events.`));
      },
      { access: 'open', prefix: true, pattern: '/ui/{file}' },
    );
    router.register(
      '/ui/events',
      (ctx) => {
        // HEAD: the page asks whether its key will do, before it opens the stream.
        if (ctx.method === 'HEAD') ctx.res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' }).end();
        else this.open(ctx.res);
      },
      { access: 'node' },
    );
  }

  /** Pages open now. */
  get pages(): number {
    return this.streams.size;
  }

  /** Ends every stream (the node is stopping): pages reconnect to another node. */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
    this.idle();
  }

  private sendFile(res: ServerResponse, name: string): void {
    const body = this.files.get(name);
    if (body === undefined) {
      sendError(res, new ApiError('NOT_FOUND', `This node has no cluster page: ${this.missing ?? 'its files are missing'}.`));
      return;
    }
    res.writeHead(200, { 'Content-Type': ASSETS[name] as string, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
    res.end(body);
  }

  private open(res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
    if (this.streams.size === 0) {
      this.stopWatching = this.deps.changes.watch();
      this.timer = this.deps.scheduler.every(this.deps.intervalMs, () => this.tick());
    }
    this.streams.add(res);
    res.on('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.idle();
    });
    // A page that lost its node tries again after 2 s (another node, behind a balancer).
    res.write(`retry: 2000\n${event('picture', this.deps.picture())}${event('changes', this.deps.changes.recent())}`);
  }

  private tick(): void {
    const text = event('picture', this.deps.picture());
    const fresh = this.deps.changes.takeFresh();
    const changes = fresh.length === 0 ? '' : event('changes', fresh);
    for (const res of this.streams) {
      // A page that stopped reading is cut rather than buffered for without end.
      if (res.writableLength > MAX_BUFFERED) res.destroy();
      else res.write(text + changes);
    }
  }

  private idle(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.stopWatching?.();
    this.stopWatching = undefined;
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
