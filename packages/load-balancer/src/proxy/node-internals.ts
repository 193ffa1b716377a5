import * as net from 'node:net';

/**
 * Every use of Node.js internals in the balancer, in one place: the private `_handle` of a
 * socket (libuv's TCP handle). Two speed-ups stand on it:
 * - `adoptWithOnread` re-wraps an accepted connection in a socket that reads into one
 *   shared buffer (net.Server has no `onread` option; without it every read allocates a
 *   64 KiB buffer and goes through the stream machinery);
 * - `descriptorOf` gives the file descriptor the native pump takes over.
 * `probeInternals` checks at start that the handle is what this code expects, on a real
 * loopback connection; when it is not (another Node.js), both are turned off
 * (`setInternals(false)`), and the proxy falls back to the public API ('data'
 * events, JavaScript pump).
 */

let enabled = true;
let disabledBecause: string | undefined;

export type OnRead = (bytes: number, buffer: Uint8Array) => boolean;

/** Whether the internals are in use, and why not. */
export function internalsStatus(): { readonly enabled: boolean; readonly reason: string | undefined } {
  return { enabled, reason: disabledBecause };
}

/** Turns the internals off for this process (the public API from now on), or on again. */
export function setInternals(on: boolean, reason?: string): void {
  enabled = on;
  disabledBecause = on ? undefined : reason;
}

/**
 * Moves the handle of an accepted connection (paused on accept) into a new socket that
 * reads into `buffer` and calls `callback`; undefined when the internals are off or the
 * handle is missing: the caller then uses `accepted` as it is.
 */
export function adoptWithOnread(accepted: net.Socket, buffer: Buffer, callback: OnRead): net.Socket | undefined {
  if (!enabled) return undefined;
  const holder = accepted as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (handle === undefined || handle === null) return undefined;
  holder._handle = null;
  accepted.destroy(); // releases the server's count of it; the handle lives on below
  return new net.Socket({ handle, allowHalfOpen: true, onread: { buffer, callback } } as net.SocketConstructorOpts);
}

/** The file descriptor under a connected socket; undefined when the internals are off. */
export function descriptorOf(socket: net.Socket): number | undefined {
  if (!enabled) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** What `probeInternals` found; `reason` says what was not as expected. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly reason?: string;
}

/**
 * One loopback connection through the same path the proxy takes: the accepted socket
 * must have a handle with a descriptor, and adopting it must deliver the client's bytes
 * through `onread`. Resolves within `timeoutMs`, never rejects.
 */
export function probeInternals(timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sockets: net.Socket[] = [];
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      server.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, reason: `no byte arrived through onread within ${timeoutMs} ms` }), timeoutMs);
    const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
      sockets.push(accepted);
      if (descriptorOf(accepted) === undefined) {
        done({ ok: false, reason: 'an accepted socket has no _handle.fd' });
        return;
      }
      const adopted = adoptWithOnread(accepted, Buffer.allocUnsafe(64), (bytes, buffer) => {
        done(bytes === 1 && buffer[0] === 0x2a ? { ok: true } : { ok: false, reason: 'onread delivered other bytes than were sent' });
        return true;
      });
      if (adopted === undefined) {
        done({ ok: false, reason: 'an accepted socket has no _handle' });
        return;
      }
      sockets.push(adopted);
      adopted.on('error', (error) => done({ ok: false, reason: `the adopted socket failed: ${error.message}` }));
    });
    server.on('error', (error) => done({ ok: false, reason: `cannot listen on 127.0.0.1: ${error.message}` }));
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => client.write(Buffer.from([0x2a])));
      client.on('error', () => undefined);
      sockets.push(client);
    });
  });
}
