import type { Backend } from './discovery';

/** The part of Docker's `GET /containers/json` answer the balancer reads. */
export interface ContainerSummary {
  readonly Id: string;
  readonly Names?: readonly string[] | null;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly State?: string;
  readonly Status?: string;
  readonly NetworkSettings?: {
    readonly Networks?: Readonly<Record<string, { readonly IPAddress?: string } | null>> | null;
  } | null;
}

export interface MappingOptions {
  readonly groupName: string;
  readonly groupPort: number;
  /** The balancer's own compose project, when it runs in a container of one. */
  readonly project: string | undefined;
  /** NETWORK_NAME: use the address on this network (also tried as `<project>_<name>`). */
  readonly networkName: string | undefined;
  /** Networks the balancer's own container is on; empty when it runs outside Docker. */
  readonly ownNetworks: readonly string[];
}

export interface Skipped {
  readonly id: string;
  readonly name: string;
  readonly reason: string;
}

export interface Mapping {
  readonly backends: Backend[];
  readonly skipped: Skipped[];
}

export const SERVICE_LABEL = 'com.docker.compose.service';
export const PROJECT_LABEL = 'com.docker.compose.project';

/**
 * Turns a container listing into backends. Pure: no Docker, no clock, so every rule is
 * table-tested. A container is a backend when it carries the compose service label equal
 * to GROUP_NAME (one-off `docker compose run` containers carry it too), belongs to the
 * balancer's own project when that is known, is running and not `unhealthy`, and has an
 * IP address on the network the balancer can reach. Anything else is skipped with the
 * reason, never an error.
 */
export function containersToBackends(containers: readonly ContainerSummary[], options: MappingOptions): Mapping {
  const backends: Backend[] = [];
  const skipped: Skipped[] = [];
  for (const container of containers) {
    const name = (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, '');
    const skip = (reason: string): void => {
      skipped.push({ id: container.Id, name, reason });
    };
    const labels = container.Labels ?? {};
    const service = labels[SERVICE_LABEL];
    if (service === undefined) {
      skip('no compose service label');
      continue;
    }
    if (service !== options.groupName) {
      skip(`service "${service}" is not "${options.groupName}"`);
      continue;
    }
    if (options.project !== undefined && labels[PROJECT_LABEL] !== options.project) {
      skip(`project "${labels[PROJECT_LABEL] ?? '(none)'}" is not "${options.project}"`);
      continue;
    }
    if (container.State !== 'running') {
      skip(`state is ${container.State ?? 'unknown'}`);
      continue;
    }
    if (container.Status?.includes('(unhealthy)') === true) {
      skip('unhealthy');
      continue;
    }
    const networks = container.NetworkSettings?.Networks ?? {};
    const chosen = pickNetwork(Object.keys(networks).sort(), options);
    if (chosen === undefined) {
      skip(
        options.networkName !== undefined
          ? `not on network "${options.networkName}"`
          : `no network shared with the balancer (has ${Object.keys(networks).join(', ') || 'none'})`,
      );
      continue;
    }
    const ip = networks[chosen]?.IPAddress;
    if (ip === undefined || ip === '') {
      skip(`no IP address on network "${chosen}"`);
      continue;
    }
    backends.push({ id: container.Id, host: ip, port: options.groupPort, name });
  }
  backends.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { backends, skipped };
}

function pickNetwork(names: readonly string[], options: MappingOptions): string | undefined {
  if (options.networkName !== undefined) {
    const wanted = [options.networkName];
    if (options.project !== undefined) wanted.push(`${options.project}_${options.networkName}`);
    return names.find((n) => wanted.includes(n));
  }
  if (options.ownNetworks.length > 0) return names.find((n) => options.ownNetworks.includes(n));
  // Outside Docker any bridge network is reachable from the host: take the first by name.
  return names[0];
}
