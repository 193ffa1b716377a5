/**
 * The wait before retry number `failures` (1 for the first): exponential from `minMs`,
 * capped at `maxMs`, and jittered over the upper half of that, so that many clients that
 * failed together do not retry together.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  return cap / 2 + (random() * cap) / 2;
}
