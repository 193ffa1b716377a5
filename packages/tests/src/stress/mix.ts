/**
 * The operations the stress tool can send: the nkvd routes, the index, and KV v2's
 * (`set-ttl`: /set with a ttl of a minute; `kv-*`: /kv/{key}; `batch`: 10 writes), and of
 * API keys (`whoami`; `keys-list` and `tenants-list`, which need an admin key when keys are
 * required), and of operators (`metrics`: /metrics; `ready`: the readiness probe /ready; `ui`: the cluster page /ui; its stream
 * /ui/events is not a request with an answer, and is not in the mix), and of change feeds
 * (`watch`: a long poll of /watch that answers at once; `publish`: a topic message; the
 * streams of /watch and /subscribe are not requests with an answer either). Making and revoking keys is not in the mix: each costs a deliberately slow
 * hash (scrypt), and a load run would fill the node with keys.
 */
export const OPERATIONS = ['set', 'get', 'is', 'rm', 'index', 'set-ttl', 'expire', 'persist', 'ttl', 'meta', 'scan', 'kv-get', 'kv-put', 'kv-delete', 'batch', 'whoami', 'keys-list', 'tenants-list', 'metrics', 'ui', 'watch', 'publish', 'ready'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface MixEntry {
  readonly op: Operation;
  readonly weight: number;
}

/**
 * `STRESS_MIX`, e.g. `set:50,get:50` or `get:9,set:1`: operations with whole-number
 * weights (relative, they need not add up to 100). Throws with a clear message otherwise.
 */
export function parseMix(text: string): MixEntry[] {
  const entries: MixEntry[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const match = /^([a-z-]+):(\d{1,6})$/.exec(part);
    if (match === null) throw new Error(`STRESS_MIX entries are op:weight, e.g. set:50 (got "${part}")`);
    const op = match[1] as Operation;
    if (!OPERATIONS.includes(op)) throw new Error(`STRESS_MIX: unknown operation "${op}" (known: ${OPERATIONS.join(', ')})`);
    if (entries.some((e) => e.op === op)) throw new Error(`STRESS_MIX names ${op} twice`);
    entries.push({ op, weight: Number(match[2]) });
  }
  const total = entries.reduce((sum, e) => sum + e.weight, 0);
  if (entries.length === 0 || total === 0) throw new Error('STRESS_MIX needs at least one operation with a weight above 0');
  return entries;
}

/** Picks an operation for `random` in [0, 1), in proportion to the weights. */
export function pick(mix: readonly MixEntry[], random: number): Operation {
  if (mix.length === 1) return (mix[0] as MixEntry).op;
  let total = 0;
  for (const entry of mix) total += entry.weight;
  let point = random * total;
  for (const entry of mix) {
    if (point < entry.weight) return entry.op;
    point -= entry.weight;
  }
  return (mix[mix.length - 1] as MixEntry).op;
}
