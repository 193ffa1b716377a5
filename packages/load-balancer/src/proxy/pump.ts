import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { descriptorOf } from './node-internals';

/** How a connection moved by the pump ended. */
export type PumpEnd = 'ended' | 'error' | 'idle' | 'closed';

/** What the pump reports once a connection it moved has ended. */
export interface PumpedConnection {
  /** Bytes from the client to the backend, and back, while the pump moved them. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly reason: PumpEnd;
}

/** The compiled addon (native/pump.c); see its header for the contract. */
interface PumpBinding {
  start(onClose: (id: number, bytesIn: number, bytesOut: number, reason: PumpEnd) => void): void;
  add(clientFd: number, backendFd: number, id: number, idleMs: number): void;
  close(id?: number): void;
}

/**
 * Moves the bytes of joined connections on a native thread (native/pump.c), with no
 * JavaScript per chunk. One per process, shared by every proxy in it. A connection given
 * to `take` is no longer the caller's: its two sockets are destroyed (only the process's
 * own copies of the descriptors close), and `onEnd` is called once, on this thread, when
 * it ends. NB: the bytes of a connection the pump moves are known only when it ends.
 */
export class BytePump {
  private nextId = 1;
  private started = false;
  private readonly open = new Map<number, (end: PumpedConnection) => void>();

  constructor(private readonly binding: PumpBinding) {}

  /** Connections the pump moves now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Hands over two connected sockets that have nothing left in their write buffers and
   * whose reading is stopped. Returns the id, or undefined when the pump cannot take them
   * (no descriptor, too many open files): they are then left as they were.
   */
  take(client: net.Socket, backend: net.Socket, idleMs: number, onEnd: (end: PumpedConnection) => void): number | undefined {
    const clientFd = descriptorOf(client);
    const backendFd = descriptorOf(backend);
    if (clientFd === undefined || backendFd === undefined) return undefined;
    if (!this.started) {
      this.binding.start((id, bytesIn, bytesOut, reason) => this.ended(id, { bytesIn, bytesOut, reason }));
      this.started = true;
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    try {
      this.binding.add(clientFd, backendFd, id, idleMs);
    } catch {
      return undefined;
    }
    this.open.set(id, onEnd);
    client.destroy();
    backend.destroy();
    return id;
  }

  /** Asks the pump to close a connection; its `onEnd` follows with the reason 'closed'. */
  close(id: number): void {
    if (this.open.has(id)) this.binding.close(id);
  }

  private ended(id: number, end: PumpedConnection): void {
    const onEnd = this.open.get(id);
    this.open.delete(id);
    onEnd?.(end);
  }
}

/**
 * Where the build puts the addon: dist/native/pump.node. Searched from here upward, so the
 * compiled tests (test-build/src/proxy) find the one the build made.
 */
function addonPath(): string | undefined {
  for (let dir = __dirname, i = 0; i < 4; dir = path.dirname(dir), i++) {
    for (const candidate of [path.join(dir, 'native', 'pump.node'), path.join(dir, 'dist', 'native', 'pump.node')]) {
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

let shared: BytePump | Error | undefined;

/** The process's pump, or the reason there is none (not built for this machine). */
export function nativePump(): BytePump | Error {
  if (shared !== undefined) return shared;
  const file = addonPath();
  if (file === undefined) {
    shared = new Error('the native pump is not built (dist/native/pump.node): `npm run build` builds it on Linux with a C compiler');
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a compiled addon is loaded by path, at run time
      shared = new BytePump(require(file) as PumpBinding);
    } catch (error) {
      shared = new Error(`the native pump (${file}) cannot be loaded: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return shared;
}
