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

function pickNetwork(names: readonly string[], options: Pick<MappingOptions, 'networkName' | 'project' | 'ownNetworks'>): string | undefined {
  if (options.networkName !== undefined) {
    const wanted = [options.networkName];
    if (options.project !== undefined) wanted.push(`${options.project}_${options.networkName}`);
    return names.find((n) => wanted.includes(n));
  }
  if (options.ownNetworks.length > 0) return names.find((n) => options.ownNetworks.includes(n));
  // Outside Docker any bridge network is reachable from the host: take the first by name
  // (but not Swarm's routing mesh).
  return names.find((n) => n !== 'ingress');
}

/** The part of a Swarm task (`GET /tasks`) the balancer reads. */
export interface TaskSummary {
  readonly ID: string;
  readonly Slot?: number;
  readonly NodeID?: string;
  readonly DesiredState?: string;
  readonly Status?: { readonly State?: string; readonly Err?: string } | null;
  readonly NetworksAttachments?: readonly {
    readonly Network?: { readonly Spec?: { readonly Name?: string } | null } | null;
    readonly Addresses?: readonly string[] | null;
  }[] | null;
}

export interface TaskMappingOptions {
  /** The Swarm service the tasks belong to (`<stack>_<GROUP_NAME>` in a stack). */
  readonly serviceName: string;
  readonly groupPort: number;
  /** NETWORK_NAME: the address on this network (also tried as `<stack>_<name>`). */
  readonly networkName: string | undefined;
  /** The stack the balancer runs in, when it is a task of one. */
  readonly stack: string | undefined;
  /** Networks the balancer's own container is on; empty when it runs outside Docker. */
  readonly ownNetworks: readonly string[];
}

export const SWARM_SERVICE_LABEL = 'com.docker.swarm.service.name';
export const STACK_LABEL = 'com.docker.stack.namespace';

/**
 * Turns the tasks of a Swarm service into backends, as containersToBackends does for
 * containers. A task is a backend when Swarm wants it running and it is `running` (a task
 * with a health check is `starting` until its first good check, so an unhealthy one never
 * is), with an address on a network the balancer can reach. Named `<service>.<slot>` like
 * Swarm's own task names (a global service's by node).
 */
export function tasksToBackends(tasks: readonly TaskSummary[], options: TaskMappingOptions): Mapping {
  const backends: Backend[] = [];
  const skipped: Skipped[] = [];
  for (const task of tasks) {
    const name = `${options.serviceName}.${task.Slot ?? task.NodeID ?? task.ID.slice(0, 12)}`;
    const skip = (reason: string): void => {
      skipped.push({ id: task.ID, name, reason });
    };
    if (task.DesiredState !== undefined && task.DesiredState !== 'running') {
      skip(`desired state is ${task.DesiredState}`);
      continue;
    }
    const state = task.Status?.State ?? 'unknown';
    if (state !== 'running') {
      skip(`state is ${state}`);
      continue;
    }
    const attachments = new Map<string, readonly string[]>();
    for (const attachment of task.NetworksAttachments ?? []) {
      const network = attachment.Network?.Spec?.Name;
      if (network !== undefined) attachments.set(network, attachment.Addresses ?? []);
    }
    const chosen = pickNetwork([...attachments.keys()].sort(), {
      networkName: options.networkName,
      project: options.stack,
      // The routing mesh's network carries no traffic of the balancer's.
      ownNetworks: options.ownNetworks.filter((n) => n !== 'ingress'),
    });
    if (chosen === undefined) {
      skip(
        options.networkName !== undefined
          ? `not on network "${options.networkName}"`
          : `no network shared with the balancer (has ${[...attachments.keys()].join(', ') || 'none'})`,
      );
      continue;
    }
    const address = attachments.get(chosen)?.[0]?.split('/')[0];
    if (address === undefined || address === '') {
      skip(`no address on network "${chosen}"`);
      continue;
    }
    backends.push({ id: task.ID, host: address, port: options.groupPort, name });
  }
  backends.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { backends, skipped };
}
