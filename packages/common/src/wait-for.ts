export interface WaitOptions {
  /** ms between two checks (default 10). */
  readonly intervalMs?: number;
  /** A condition that throws counts as not yet true, and the last error is named at the deadline (default: it fails the wait at once). */
  readonly retryErrors?: boolean;
}

/**
 * Polls `condition` until it holds, then resolves with the ms it took; rejects naming
 * `what` once `timeoutMs` has passed. For tests and tools that wait for a state of real
 * processes: a deadline, never a fixed sleep.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, options: WaitOptions = {}): Promise<number> {
  const started = Date.now();
  let last = '';
  for (;;) {
    try {
      if (await condition()) return Date.now() - started;
    } catch (error) {
      if (options.retryErrors !== true) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === '' ? '' : ` (last: ${last})`}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
