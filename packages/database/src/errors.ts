/**
 * The catalogue of every error the public API can answer with. Each entry has a stable
 * code (the `error` field, kept bare for nkvd clients), an HTTP status and a message that
 * tells the caller what to change.
 */
export const ERROR_CATALOGUE = {
  MISSING_KEY_PARAM: { status: 400, message: 'The query has no key: add k=<key>.' },
  EMPTY_KEY: { status: 400, message: 'The key is empty: a key has at least one character.' },
  MAXIMUM_KEY_LENGTH_REACHED: { status: 400, message: 'The key is longer than the maximum key length.' },
  MISSING_VALUE_PARAM: { status: 400, message: 'The query has no value: add v=<value> (v= for an empty value).' },
  MAXIMUM_VALUE_LENGTH_REACHED: { status: 400, message: 'The value is longer than the maximum value length.' },
  MALFORMED_QUERY: { status: 400, message: 'The query string cannot be read.' },
  MALFORMED_PATH: { status: 400, message: 'The path has a malformed percent escape: write a literal % as %25 and encode text as UTF-8.' },
  INVALID_WRITE_CONCERN: {
    status: 400,
    message: 'The write concern cannot be read: w takes a whole number of nodes, "all" or "majority", wtimeout milliseconds.',
  },
  INVALID_TTL: { status: 400, message: 'The ttl must be a duration from 1 ms to MAX_TTL_MS: whole milliseconds (5000) or a number with a unit ms, s, m, h or d (30s, 5m, 1.5h).' },
  INVALID_LIMIT: { status: 400, message: 'The limit must be a whole number from 1 to 1000.' },
  INVALID_PARAMETER: { status: 400, message: 'A parameter has a value this route does not take.' },
  MALFORMED_BODY: { status: 400, message: 'The request body is not the JSON this route takes.' },
  INVALID_UTF8: { status: 400, message: 'The request body is not valid UTF-8 text: send the value encoded as UTF-8.' },
  BAD_REQUEST: { status: 400, message: 'The request cannot be read as HTTP/1.1.' },
  UNAUTHORIZED: {
    status: 401,
    message: 'Mesh routes take only requests signed with the mesh secret (MeshKV-HMAC-SHA256, fresh, used once, for this path and body): only nodes of the mesh send them.',
  },
  FORBIDDEN: { status: 403, message: 'This API key may not use this route.' },
  QUOTA_EXCEEDED: { status: 403, message: "The write would take the tenant past its quota: delete keys first, or ask for a higher quota. Reads and deletes go on." },
  RATE_LIMITED: { status: 429, message: 'This API key made more requests of this kind than its rate allows: retry after the seconds in Retry-After.' },
  INVALID_KEY: { status: 400, message: 'The key starts with U+D800, a lone surrogate MeshKV keeps for its own records: no client key may start with it.' },
  STALE_SIGNATURE: {
    status: 401,
    message: 'The request is signed with the mesh secret, but at a time more than 120 s from this node\'s clock: the clocks of the two nodes differ too much (check NTP on both).',
  },
  INVALID_CURSOR: { status: 400, message: 'The event id to continue after (after= or Last-Event-ID) is not one this node gives: send the id of the last event received, as it came.' },
  MISSING_TOPIC_PARAM: { status: 400, message: 'The query has no topic: add t=<topic>.' },
  MISSING_MESSAGE_PARAM: { status: 400, message: 'The publish has no message: add m=<message>, or POST it as the body.' },
  CURSOR_EXPIRED: {
    status: 410,
    message: 'The events after this id are no longer here (another node, a restart, or older than the buffer of WATCH_BUFFER_EVENTS): read the keys again (scan), then watch with since=now.',
  },
  MISSING_RECORD: { status: 404, message: 'No record has this key.' },
  NOT_FOUND: { status: 404, message: 'No route has this path.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This route does not take this method.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than the server accepts.' },
  URI_TOO_LONG: { status: 414, message: 'The request URL is longer than the server accepts.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the server accepts.' },
  INTERNAL_ERROR: { status: 500, message: 'The server failed to answer this request; it has been logged.' },
  SHUTTING_DOWN: { status: 503, message: 'The node is shutting down.' },
  WRITE_REFUSED: {
    status: 503,
    message: 'The write is applied on this node, but peers refused it, so fewer nodes than w hold it.',
  },
  CLOCK_SKEW: {
    status: 503,
    message: "This node's clock is off from the other nodes' by more than half of MAX_CLOCK_DRIFT_MS: it takes no writes until the clock is corrected (see clock in /status); write to another node.",
  },
  DUPLICATE_NODE_ID: {
    status: 503,
    message: 'Another node of the mesh, started earlier, has this node\'s NODE_ID: this one left the mesh and takes no writes. Give each node its own NODE_ID (or none: one is made at first start) and restart it.',
  },
  NOT_JOINED: {
    status: 503,
    message: 'This node has seeds (MESH_NETWORK_URL) and none of them has answered yet, so it takes no writes (they would split the mesh); see join in /status for why. Fix the seed URL or MESH_SECRET, or set START_ALONE=true to start a mesh of its own.',
  },
  TOO_MANY_WATCHERS: { status: 503, message: 'The node has as many open watches and subscriptions as it takes (WATCH_MAX_CONNECTIONS): retry after the time in Retry-After, or watch on another node.' },
  TOO_MANY_CONNECTIONS: { status: 503, message: 'The node has as many open connections as it takes (MAX_CONNECTIONS): retry after the time in Retry-After, or reuse a connection.' },
  INSUFFICIENT_STORAGE: {
    status: 507,
    message: 'This node cannot write to its storage now (its disk is full, or fails): the write was not stored here. Reads go on; writes are taken again by themselves once the disk has room. Write to another node meanwhile.',
  },
  WRITE_TIMEOUT: {
    status: 504,
    message: 'The write is applied here but fewer nodes than w acknowledged it in time; it will still replicate.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * An error meant for the client: rendered as `{"error":CODE,"message":…}` plus any details.
 * Thrown where that is simplest (mesh bodies, rare paths); on hot routes it is returned,
 * not thrown, and the errors with the catalogue's message are shared instances
 * (`ApiError.of`) whose body is rendered once.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** Headers the answer carries (name, value, …): WWW-Authenticate of a 401, Retry-After of a 429. */
  readonly headers: readonly string[] | undefined;
  private text: string | undefined;

  /** `status`: another status than the catalogue's, where a route must (a body too long is 413, a query value too long 400). */
  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, status?: number, headers?: readonly string[]) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status ?? ERROR_CATALOGUE[code].status;
    this.details = details;
    this.headers = headers;
  }

  private static readonly shared = new Map<ErrorCode, ApiError>();

  /** The one instance of `code` with the catalogue's message and no details. */
  static of(code: ErrorCode): ApiError {
    let error = ApiError.shared.get(code);
    if (error === undefined) {
      error = new ApiError(code);
      ApiError.shared.set(code, error);
    }
    return error;
  }

  /** The JSON body, rendered once. */
  get body(): string {
    this.text ??= JSON.stringify(this);
    return this.text;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}
