import { Readable } from 'node:stream';
import { ApiError } from '../errors';
import type { MeshService } from './service';
import { jsonTextOf, type MeshTransport, PeerRequestError } from './transport';

/**
 * A network of nodes in one process, for tests (as memberlist's MockNetwork): each node
 * gets a transport (`transportFor`) and attaches its MeshService under its URL; requests
 * are delivered by calling the callee's service. Bodies and answers go through JSON text both ways,
 * as on the wire. Links can be cut (`partition`) and restored (`heal`); a request over a
 * cut link, or to a URL nobody registered, fails as a refused connection would. Requests
 * settle as soon as the callee's promises do: with a fake scheduler, a whole cluster runs
 * with no real socket and no real timer.
 */
export class MemoryNetwork {
  private readonly services = new Map<string, MeshService>();
  private readonly cut = new Set<string>();
  /** `url path`: requests to that path of that node fail (a one-way fault pings do not see). */
  private readonly failing = new Set<string>();

  /** The transport of the node at `url`: its requests to the others. */
  transportFor(url: string): MeshTransport {
    return new MemoryTransport(this, url);
  }

  /** Makes the node at `url` reachable: requests to it go to `service`. */
  attach(url: string, service: MeshService): void {
    this.services.set(url, service);
  }

  /** Takes the node at `url` off the network (it crashed, or froze). */
  detach(url: string): void {
    this.services.delete(url);
  }

  /** Cuts every link between a node of `side` and a node of `other` (both ways). */
  partition(side: readonly string[], other: readonly string[]): void {
    for (const a of side) for (const b of other) this.cut.add(link(a, b));
  }

  /** Requests to `path` of the node at `url` fail from now on; its other routes still answer. */
  failPath(url: string, path: string): void {
    this.failing.add(`${url} ${path}`);
  }

  /** Restores every link and path. */
  heal(): void {
    this.cut.clear();
    this.failing.clear();
  }

  /** The answer of `to`'s service to a request from `from`, as JSON-ready data. */
  async deliver(from: string, to: string, path: string, body: unknown): Promise<unknown> {
    const service = this.services.get(to);
    if (service === undefined || this.cut.has(link(from, to)) || this.failing.has(`${to} ${path}`)) throw new PeerRequestError(`${to}${path}: ECONNREFUSED (memory network)`);
    const request = JSON.parse(jsonTextOf(body)) as unknown;
    try {
      switch (path) {
        case '/ping':
          return service.ping(request);
        case '/_mesh/replicate':
          return await service.replicate(request);
        case '/_mesh/digests':
          return service.digests(request);
        case '/_mesh/publish':
          return service.publish(request);
        case '/_mesh/pull':
          return await joined(service.pull(request));
        case '/_mesh/versions':
          return await joined(service.versions(request));
        default:
          throw new ApiError('NOT_FOUND', `No route has the path ${path}.`);
      }
    } catch (error) {
      if (error instanceof ApiError) throw new PeerRequestError(`${to}${path}: HTTP ${error.status} ${error.body}`, error.status);
      throw error;
    }
  }
}

function link(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

class MemoryTransport implements MeshTransport {
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    private readonly from: string,
  ) {}

  async post<T>(url: string, path: string, body: unknown): Promise<T> {
    const answer = await this.send(url, path, body);
    return JSON.parse(JSON.stringify(answer)) as T;
  }

  async stream<T>(url: string, path: string, body: unknown, _timeoutMs: number, read: (chunks: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
    const answer = await this.send(url, path, body);
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
    return read(Readable.from([Buffer.from(text, 'utf8')]));
  }

  forget(): void {
    // Nothing is kept open per peer.
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private send(url: string, path: string, body: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new PeerRequestError(`${url}${path}: the transport is closed`));
    return this.network.deliver(this.from, url, path, body);
  }
}

/** A streamed answer as one text. */
async function joined(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}
