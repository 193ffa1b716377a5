import type { BalancerPicture } from '@meshkv/client';

const TIMEOUT_MS = 1000;

/**
 * Reads the balancer's /stats (UI_BALANCER_URL, with UI_BALANCER_TOKEN) for the cluster
 * page: at most one request at a time; a failure is shown, never thrown.
 */
export class BalancerView {
  private last: BalancerPicture;
  private reading = false;

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
  ) {
    this.last = { url, error: 'not read yet', backends: [] };
  }

  /** What was read last; starts a new read unless one is under way. */
  picture(): BalancerPicture {
    if (!this.reading) {
      this.reading = true;
      void this.read().then((picture) => {
        this.last = picture;
        this.reading = false;
      });
    }
    return this.last;
  }

  private async read(): Promise<BalancerPicture> {
    try {
      // Node's own fetch, loaded on first use: a node that never shows its page never loads a client for it.
      const answer = await fetch(`${this.url}/stats`, {
        headers: this.token === undefined ? {} : { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const body = (await answer.json()) as { backends?: unknown; connections?: { active?: unknown; accepted?: unknown } };
      if (answer.status !== 200) return { url: this.url, error: `its /stats answered ${answer.status}`, backends: [] };
      const backends = Array.isArray(body.backends) ? body.backends.flatMap(readBackend) : [];
      const { active, accepted } = body.connections ?? {};
      return { url: this.url, backends, ...(typeof active === 'number' && typeof accepted === 'number' ? { connections: { active, accepted } } : {}) };
    } catch (error) {
      return { url: this.url, error: `cannot read its /stats: ${(error as Error).message}`, backends: [] };
    }
  }
}

function readBackend(value: unknown): BalancerPicture['backends'] {
  if (typeof value !== 'object' || value === null) return [];
  const { name, address, state, active, total } = value as Record<string, unknown>;
  if (typeof name !== 'string' || typeof address !== 'string' || typeof state !== 'string') return [];
  return [{ name, address, state, active: typeof active === 'number' ? active : 0, total: typeof total === 'number' ? total : 0 }];
}
