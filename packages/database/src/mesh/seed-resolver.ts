import { promises as dns } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Logger } from '@meshkv/common';

/**
 * A seed of MESH_NETWORK_URL: a URL of one node (or of a balancer), or a DNS name that
 * stands for many — `dns://name:port` (every address of the name, each on `port`) or
 * `dns+srv://name` (every target and port of the name's SRV records).
 */
export type SeedSpec =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'dns'; readonly host: string; readonly port: number; readonly text: string }
  | { readonly kind: 'srv'; readonly name: string; readonly text: string };

/** The seeds of a node as they are now: see SeedResolver. */
export interface SeedSource {
  /** True when MESH_NETWORK_URL names any seed (a DNS name that names no node yet counts). */
  readonly configured: boolean;
  current(): readonly string[];
  /** Looks the DNS names up again (never rejects); the next round pings what they name. */
  refresh(): Promise<void>;
  /** Why each DNS name could not be looked up last time, by its text. */
  problemsNow?(): ReadonlyMap<string, string>;
  /** True for a URL a DNS name gave (a node's address), not one written in MESH_NETWORK_URL. */
  named?(url: string): boolean;
}

/** How names are looked up: the system's resolver, or DNS_SERVERS (see dnsLookup). */
export interface Lookup {
  /** Every IPv4 and IPv6 address of `host`. Rejects when there are none. */
  addresses(host: string): Promise<string[]>;
  /** Every SRV record of `name`. Rejects when there are none. */
  srv(name: string): Promise<{ name: string; port: number }[]>;
}

/**
 * Lookups through `servers` (`host:port`, DNS_SERVERS) when given, asking them directly;
 * else through the system: getaddrinfo for addresses (so /etc/hosts and Docker's embedded
 * DNS answer as for any program), the servers of /etc/resolv.conf for SRV.
 */
export function dnsLookup(servers: readonly string[]): Lookup {
  if (servers.length === 0) {
    return {
      addresses: async (host) => (await dns.lookup(host, { all: true })).map((entry) => entry.address),
      srv: (name) => dns.resolveSrv(name),
    };
  }
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([...servers]);
  return {
    addresses: async (host) => {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
      if (found.length === 0) throw (v4.status === 'rejected' ? v4.reason : new Error(`${host} has no address`)) as Error;
      return found;
    },
    srv: (name) => resolver.resolveSrv(name),
  };
}

/**
 * With DNS_SERVERS, the names of peers' URLs (their ADVERTISE_URL: a pod's name in a
 * StatefulSet, say) are looked up through those servers too, as the seeds are: a socket's
 * `lookup`. Undefined without DNS_SERVERS (the system's resolver, as for any program).
 */
export function connectLookup(servers: readonly string[]): LookupFunction | undefined {
  if (servers.length === 0) return undefined;
  const lookup = dnsLookup(servers);
  return (hostname, options, callback) => {
    lookup.addresses(hostname).then(
      (found) => {
        const entries = found.map((address) => ({ address, family: isIP(address) }));
        const first = entries[0] as { address: string; family: number };
        if (options.all === true) (callback as unknown as (error: null, entries: { address: string; family: number }[]) => void)(null, entries);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** ms between two lookups of the same name at most often: a ping round may be shorter. */
export const MIN_LOOKUP_INTERVAL_MS = 1000;

/**
 * The seeds to ping now: the URLs of MESH_NETWORK_URL as given, and the nodes its DNS
 * names stand for, looked up again each ping round (at most every MIN_LOOKUP_INTERVAL_MS),
 * so replicas added behind a name are pinged — and join — without a restart. A lookup
 * that fails keeps what the name gave last (the peers it found stay peers anyway, as long
 * as they answer pings); a failure, and the recovery, are logged once per change, never
 * thrown. `current()` never waits for a lookup.
 */
export class SeedResolver implements SeedSource {
  private readonly found = new Map<string, readonly string[]>();
  private readonly problems = new Map<string, string>();
  private looking: Promise<void> | undefined;
  private lastLookup = -Infinity;

  constructor(
    private readonly specs: readonly SeedSpec[],
    private readonly scheme: 'http' | 'https',
    private readonly lookup: Lookup,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** True when MESH_NETWORK_URL names any seed (see SeedSource). */
  get configured(): boolean {
    return this.specs.length > 0;
  }

  /** True when a seed is a DNS name: its nodes are known only once looked up. */
  get dynamic(): boolean {
    return this.specs.some((spec) => spec.kind !== 'url');
  }

  /** The seed URLs now: the fixed ones, then what each name gave last, without repeats. */
  current(): string[] {
    const urls = new Set<string>();
    for (const spec of this.specs) {
      if (spec.kind === 'url') urls.add(spec.url);
      else for (const url of this.found.get(spec.text) ?? []) urls.add(url);
    }
    return [...urls];
  }

  /** True for a URL a DNS name gave, and not one written as it is. */
  named(url: string): boolean {
    if (this.specs.some((spec) => spec.kind === 'url' && spec.url === url)) return false;
    for (const urls of this.found.values()) if (urls.includes(url)) return true;
    return false;
  }

  /** Why each name could not be looked up last time (none: every name answered). */
  problemsNow(): ReadonlyMap<string, string> {
    return this.problems;
  }

  /** Looks every name up again, unless one did less than MIN_LOOKUP_INTERVAL_MS ago or is still at it. */
  refresh(): Promise<void> {
    if (!this.dynamic) return Promise.resolve();
    if (this.looking !== undefined || this.now() - this.lastLookup < MIN_LOOKUP_INTERVAL_MS) return this.looking ?? Promise.resolve();
    this.lastLookup = this.now();
    this.looking = Promise.all(this.specs.map((spec) => this.resolve(spec))).then(() => {
      this.looking = undefined;
    });
    return this.looking;
  }

  private async resolve(spec: SeedSpec): Promise<void> {
    if (spec.kind === 'url') return;
    try {
      const urls =
        spec.kind === 'dns'
          ? (await this.lookup.addresses(spec.host)).map((address) => this.urlOf(address, spec.port))
          : (await Promise.all((await this.lookup.srv(spec.name)).map((record) => this.targetUrls(record.name, record.port)))).flat();
      const sorted = [...new Set(urls)].sort();
      const before = this.found.get(spec.text);
      if (before === undefined || before.join() !== sorted.join()) this.logger.info({ seed: spec.text, nodes: sorted }, 'a DNS seed names these nodes');
      this.found.set(spec.text, sorted);
      if (this.problems.delete(spec.text)) this.logger.info({ seed: spec.text }, 'the DNS seed answers again');
    } catch (error) {
      const problem = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (this.problems.get(spec.text) !== problem) {
        this.logger.warn({ seed: spec.text, problem, kept: this.found.get(spec.text) ?? [] }, 'cannot look up a DNS seed: the nodes it named before are kept, and it is asked again every ping round');
      }
      this.problems.set(spec.text, problem);
    }
  }

  /**
   * The URLs of an SRV target: its addresses, looked up the same way (a name only these DNS
   * servers know would not resolve when pinged), or the name itself if that fails.
   */
  private async targetUrls(target: string, port: number): Promise<string[]> {
    const name = target.replace(/\.$/, '');
    if (isIP(name) !== 0) return [this.urlOf(name, port)];
    try {
      return (await this.lookup.addresses(name)).map((address) => this.urlOf(address, port));
    } catch {
      return [this.urlOf(name, port)];
    }
  }

  private urlOf(host: string, port: number): string {
    const name = host.includes(':') ? `[${host}]` : host.replace(/\.$/, '');
    return `${this.scheme}://${name}:${port}`;
  }
}

/**
 * One entry of MESH_NETWORK_URL as a seed, or why it is not one: `dns://name:port`,
 * `dns+srv://name`, a URL, or `host:port` (a URL of `scheme`).
 */
export function parseSeed(text: string, scheme: 'http' | 'https'): SeedSpec | string {
  const dnsMatch = /^dns:\/\/([a-z0-9_.-]+):(\d{1,5})\/?$/i.exec(text);
  if (dnsMatch !== null) {
    const port = Number(dnsMatch[2]);
    if (port < 1 || port > 65535) return `a DNS seed's port is 1 to 65535 (got "${text}")`;
    return { kind: 'dns', host: dnsMatch[1] as string, port, text };
  }
  if (/^dns:\/\//i.test(text)) return `a DNS seed is dns://name:port, every address of the name on that port (got "${text}")`;
  const srvMatch = /^dns\+srv:\/\/([a-z0-9_.-]+)\/?$/i.exec(text);
  if (srvMatch !== null) return { kind: 'srv', name: srvMatch[1] as string, text };
  if (/^dns\+srv:\/\//i.test(text)) return `an SRV seed is dns+srv://name, the targets and ports of the name's SRV records (got "${text}")`;
  const url = (/^[a-z]+:\/\//i.test(text) ? text : `${scheme}://${text}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#\s]+$/i.test(url)) return `MESH_NETWORK_URL must list http:// URLs, host:port, dns://name:port or dns+srv://name, comma-separated (got "${text}")`;
  if (!url.toLowerCase().startsWith(`${scheme}://`)) return `MESH_NETWORK_URL must list ${scheme}:// URLs: the nodes serve ${scheme === 'https' ? 'HTTPS' : 'plain HTTP'} (got "${text}")`;
  return { kind: 'url', url };
}
