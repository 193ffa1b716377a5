import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const SUCCESS_BODY = '{"success":true}';

/** Sends a complete JSON body with its length; `body` is already JSON text. */
export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders?: readonly string[]): void {
  const headers = ['Content-Type', JSON_CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(body))];
  if (extraHeaders !== undefined) headers.push(...extraHeaders);
  res.writeHead(status, headers);
  res.end(body);
}

/** sendJson with the record's ETag: one header array, built whole (the hot read and write answers). */
export function sendTaggedJson(res: ServerResponse, status: number, body: string, etag: string): void {
  res.writeHead(status, ['Content-Type', JSON_CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(body)), 'ETag', etag]);
  res.end(body);
}

export function sendError(res: ServerResponse, error: ApiError, extraHeaders?: readonly string[]): void {
  const headers = error.headers === undefined ? extraHeaders : extraHeaders === undefined ? error.headers : [...error.headers, ...extraHeaders];
  sendJson(res, error.status, error.body, headers);
}

const CHUNK_CHARS = 64 * 1024;

/**
 * Streams a JSON array whose elements come already encoded, in chunks of about 64 KiB,
 * waiting for the socket to drain between chunks, so a large listing never sits in
 * memory as one string. A listing that fits in one chunk goes out with a
 * Content-Length; a longer one is chunked. Stops early if the client goes away.
 */
export async function streamJsonArray(res: ServerResponse, elements: Iterator<string>, sendTimeoutMs: number): Promise<void> {
  let chunk = '[';
  let first = true;
  let next = elements.next();
  while (!next.done && chunk.length < CHUNK_CHARS) {
    chunk += first ? next.value : `,${next.value}`;
    first = false;
    next = elements.next();
  }
  if (next.done) {
    sendJson(res, 200, `${chunk}]`);
    return;
  }
  res.writeHead(200, ['Content-Type', JSON_CONTENT_TYPE]);
  while (!next.done) {
    if (!res.write(chunk) && !(await drained(res, sendTimeoutMs))) return;
    chunk = '';
    while (!next.done && chunk.length < CHUNK_CHARS) {
      chunk += `,${next.value}`;
      next = elements.next();
    }
  }
  res.end(`${chunk}]`);
}

/**
 * Resolves true when the response can take more data, false when the client is gone, or
 * took nothing for `timeoutMs` (SEND_TIMEOUT_MS): then the connection is cut, so a client
 * that stopped reading holds no memory, socket or storage snapshot for ever.
 */
export function drained(res: ServerResponse, timeoutMs: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => {
      done(false);
      res.destroy();
    }, timeoutMs);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
