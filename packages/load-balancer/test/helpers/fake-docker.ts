import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerSummary } from '../../src/discovery/containers';

/**
 * A Docker API double on a unix socket, only for what a real engine cannot be made to do
 * on purpose: send garbage events, drop the event stream, fail a listing.
 */
export class FakeDocker {
  readonly socketPath = path.join(os.tmpdir(), `meshkv-fake-docker-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
  containers: ContainerSummary[] = [];
  self: { id: string; project: string; networks: string[] } | undefined;
  failLists = 0;
  lists = 0;
  private readonly streams = new Set<http.ServerResponse>();
  private readonly server: http.Server;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  get eventStreams(): number {
    return this.streams.size;
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  /** Sends raw text on every open event stream. */
  send(text: string): void {
    for (const res of this.streams) res.write(text);
  }

  event(action: string, service = 'database'): void {
    this.send(`${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: 'x', Attributes: { 'com.docker.compose.service': service } } })}\n`);
  }

  /** Ends every event stream, as a daemon restart does. */
  dropStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
  }

  async stop(): Promise<void> {
    this.dropStreams();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    fs.rmSync(this.socketPath, { force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://docker');
    const route = url.pathname.replace(/^\/v[\d.]+/, '');
    if (route === '/events') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    if (route === '/containers/json') {
      this.lists++;
      if (this.failLists > 0) {
        this.failLists--;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"message":"fake failure"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.containers));
      return;
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(route);
    if (inspect !== null && this.self !== undefined && inspect[1] === this.self.id) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          Id: this.self.id,
          Config: { Labels: { 'com.docker.compose.project': this.self.project } },
          NetworkSettings: { Networks: Object.fromEntries(this.self.networks.map((n) => [n, { IPAddress: '10.9.9.9' }])) },
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"message":"no such container"}');
  }
}

export function groupContainer(name: string, ip: string, extra: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    Id: `id-${name}`,
    Names: [`/${name}`],
    Labels: { 'com.docker.compose.service': 'database', 'com.docker.compose.project': 'meshkv' },
    State: 'running',
    Status: 'Up',
    NetworkSettings: { Networks: { meshkv_default: { IPAddress: ip } } },
    ...extra,
  };
}
