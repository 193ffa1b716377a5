/**
 * How the mesh reaches other nodes: a JSON request to a path of a node's URL, answered
 * with JSON (or streamed). The HTTP implementation (http-transport.ts) is what nodes use;
 * the in-memory one (memory-network.ts) runs a whole cluster in one process, for tests.
 *
 * Contract: every call settles within its `timeoutMs`; a non-2xx answer, a timeout or a
 * network failure rejects with a PeerRequestError; nothing is retried here (the outbox and
 * the sync queue decide that). Calls to one URL may run concurrently.
 */
export interface MeshTransport {
  /**
   * POSTs `body` as JSON and resolves with the parsed JSON answer. `fresh`: on a connection
   * of its own, closed after the answer (a seed that may be a balancer, see Pinger).
   */
  post<T>(url: string, path: string, body: unknown, timeoutMs: number, fresh?: boolean): Promise<T>;
  /** POSTs `body` as JSON and hands the answer's body to `read` as a stream of chunks. */
  stream<T>(url: string, path: string, body: unknown, timeoutMs: number, read: (chunks: AsyncIterable<Buffer>) => Promise<T>): Promise<T>;
  /** Closes what is kept open for a URL that is no longer a peer. */
  forget(url: string): void;
  close(): Promise<void>;
}

export class PeerRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** Something answered (a status, or a body that could not be read): it is reachable. */
    readonly answered: boolean = status !== undefined,
  ) {
    super(message);
    this.name = 'PeerRequestError';
  }
}

/** A body that is JSON text already (made once for several peers): sent as it is. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** The JSON text of a request body. */
export function jsonTextOf(body: unknown): string {
  return body instanceof JsonText ? body.text : JSON.stringify(body);
}
