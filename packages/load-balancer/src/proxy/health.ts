import * as net from 'node:net';
import type { BackendPool } from './pool';

/**
 * Active TCP health checks: every interval, one connect per backend (never two at once
 * to the same backend). A connect within the timeout is healthy; a refusal, a timeout or
 * an error is unhealthy. So a dead backend leaves the pool within interval + timeout,
 * whatever Docker says.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly pool: BackendPool,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly onChange: (id: string, name: string, healthy: boolean, reason: string | undefined) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.checkAll(), this.intervalMs);
    this.timer.unref();
    this.checkAll();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  checkAll(): void {
    for (const entry of this.pool.list()) {
      const { id, host, port, name } = entry.backend;
      if (this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      void probe(host, port, this.timeoutMs).then((reason) => {
        this.inFlight.delete(id);
        const healthy = reason === undefined;
        if (this.pool.setHealth(id, healthy, reason)) this.onChange(id, name, healthy, reason);
      });
    }
  }
}

/** Resolves undefined when a TCP connection opens in time, else the reason it did not. */
export function probe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}
