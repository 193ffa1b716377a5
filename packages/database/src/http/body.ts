import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors';

/**
 * Reads a request body of at most `maxBytes` as UTF-8 text. A larger body (announced by
 * Content-Length or found while reading) is a 413 and the rest is not read.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return (await readBodyBytes(req, maxBytes, tooLarge)).toString('utf8');
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as UTF-8 text; 400 INVALID_UTF8 rather than a text with U+FFFD in place of what could not be read. */
export function decodeUtf8(bytes: Uint8Array): string | ApiError {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return ApiError.of('INVALID_UTF8');
  }
}

/**
 * Reads a request body of at most `maxBytes` (Content-Length or chunked). A body announced
 * larger is refused before a byte is read; one found larger while reading is refused when
 * it passes the limit, and the rest is read and dropped (never held), so memory never
 * holds more than `maxBytes` of it. `tooLarge(maxBytes)` is the error either way. A body
 * that stops arriving is cut by the server's REQUEST_TIMEOUT_MS.
 */
export function readBodyBytes(req: IncomingMessage, maxBytes: number, tooLarge: (maxBytes: number) => ApiError): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Parses a JSON body; 400 MALFORMED_BODY when it is not JSON. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError('MALFORMED_BODY', 'The request body is not valid JSON.');
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes (MESH_MAX_BODY_BYTES).`);
}
