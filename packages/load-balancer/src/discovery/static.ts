import type { Backend, Discovery } from './discovery';

/** A fixed list (BACKENDS=host:port,…), for runs without Docker. */
export class StaticDiscovery implements Discovery {
  private readonly backends: readonly Backend[];

  constructor(entries: readonly { host: string; port: number }[]) {
    this.backends = entries.map(({ host, port }) => {
      const name = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      return { id: name, host, port, name };
    });
  }

  start(onChange: (backends: readonly Backend[]) => void): void {
    onChange(this.backends);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
