/** One place the balancer can send connections to. */
export interface Backend {
  /** Stable identity: the container id, or host:port for static backends. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** For logs and stats: the container name, or host:port. */
  readonly name: string;
}

/**
 * Where backends come from. A discovery emits the complete current list whenever it
 * changes (never a diff), and keeps running through errors: it logs them and retries.
 */
export interface Discovery {
  start(onChange: (backends: readonly Backend[]) => void): void;
  stop(): Promise<void>;
}
