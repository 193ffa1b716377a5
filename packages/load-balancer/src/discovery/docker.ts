import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { DiscoveryStatus } from '../admin';
import { backoffDelay, type Logger } from '@meshkv/common';
import type { DockerMode } from '../config';
import type { Backend, Discovery } from './discovery';
import {
  type ContainerSummary,
  containersToBackends,
  type Mapping,
  PROJECT_LABEL,
  SERVICE_LABEL,
  STACK_LABEL,
  SWARM_SERVICE_LABEL,
  type TaskSummary,
  tasksToBackends,
} from './containers';

export interface DockerDiscoveryOptions {
  readonly dockerApiLocation: string;
  readonly groupName: string;
  readonly groupPort: number;
  readonly networkName: string | undefined;
  readonly debounceMs: number;
  /** The balancer's own container id or name when it runs in Docker (HOSTNAME there). */
  readonly selfId: string | undefined;
  readonly mode?: DockerMode;
  /** A full re-list this often, in case an event was lost (default 30 s; 5 s for Swarm). */
  readonly resyncMs?: number;
}

/** Container events after which the list may have changed. */
const EVENTS = ['start', 'restart', 'die', 'stop', 'kill', 'pause', 'unpause', 'destroy', 'health_status'];
/** Service events (Swarm): scaled, updated, created or removed. */
const SERVICE_EVENTS = ['create', 'update', 'remove'];
/**
 * Swarm tells a manager's event stream about services, but only about this host's
 * containers: tasks on other hosts are seen by listing, this often.
 */
const SWARM_RESYNC_MS = 5000;

interface Self {
  readonly project: string | undefined;
  readonly networks: string[];
  /** The Swarm service and stack of the balancer's own container, when it is a task. */
  readonly swarmService: string | undefined;
  readonly stack: string | undefined;
}
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * Follows the containers of the GROUP_NAME compose service through the Docker API, or the
 * tasks of a Swarm service (`<stack>_<GROUP_NAME>` when the balancer is a task of a stack,
 * else GROUP_NAME): lists them, then re-lists (debounced) on every event that can change
 * the answer, and every `resyncMs` in case one was missed. When the API or its event stream goes
 * away (daemon restarted), it reconnects with capped, jittered backoff and lists again.
 * Errors are logged and retried, never thrown: the balancer keeps its last known list.
 */
export class DockerDiscovery implements Discovery {
  readonly status: DiscoveryStatus = { kind: 'docker', connected: false, lists: 0, events: 0, errors: 0, lastError: undefined, skipped: [] };
  private readonly docker: Docker;
  private onChange: ((backends: readonly Backend[]) => void) | undefined;
  private events: Readable | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private last = '';
  private self: Self | undefined;

  constructor(
    private readonly options: DockerDiscoveryOptions,
    private readonly logger: Logger,
  ) {
    this.docker = new Docker(dockerConnection(options.dockerApiLocation));
  }

  start(onChange: (backends: readonly Backend[]) => void): void {
    this.onChange = onChange;
    void this.connect();
  }

  /** Swarm or Compose, known once the balancer has looked itself up. */
  get swarm(): boolean {
    const mode = this.options.mode ?? 'auto';
    return mode === 'swarm' || (mode === 'auto' && this.self?.swarmService !== undefined);
  }

  /** The Swarm service followed: `<stack>_<GROUP_NAME>` for a balancer in a stack. */
  get serviceName(): string {
    const stack = this.self?.stack;
    return this.swarm && stack !== undefined ? `${stack}_${this.options.groupName}` : this.options.groupName;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.debounce, this.retry]) if (timer !== undefined) clearTimeout(timer);
    if (this.resync !== undefined) clearInterval(this.resync);
    this.events?.destroy();
    await Promise.resolve();
  }

  /** Subscribes to events first (so nothing between the list and the subscription is lost), then lists. */
  private async connect(): Promise<void> {
    if (this.stopped) return;
    const previous = this.events;
    this.events = undefined;
    previous?.destroy();
    try {
      this.self ??= await this.inspectSelf();
      this.status.kind = this.swarm ? 'swarm' : 'docker';
      this.startResync();
      const filters: Docker.GetEventsOptions['filters'] = this.swarm
        ? { type: ['container', 'service'], event: [...EVENTS, ...SERVICE_EVENTS] }
        : { type: ['container'], event: EVENTS };
      const stream = (await this.docker.getEvents({ filters })) as Readable;
      if (this.stopped) {
        stream.destroy();
        return;
      }
      this.events = stream;
      this.watch(stream);
      await this.list();
      this.status.connected = true;
      if (this.failures > 0) this.logger.info({ after: this.failures }, 'Docker API reachable again');
      this.failures = 0;
    } catch (error) {
      this.events?.destroy();
      this.failed(error);
    }
  }

  private watch(stream: Readable): void {
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line !== '') this.onEvent(line);
        newline = buffer.indexOf('\n');
      }
      // A line that never ends is not an event: keep memory bounded.
      if (buffer.length > 1_000_000) buffer = '';
    });
    const ended = (error?: Error): void => {
      if (this.events !== stream) return;
      this.events = undefined;
      this.failed(error ?? new Error('the Docker event stream ended'));
    };
    stream.once('end', () => ended());
    stream.once('error', (error: Error) => ended(error));
    stream.once('close', () => ended());
  }

  private onEvent(line: string): void {
    let event: { Type?: unknown; Action?: unknown; Actor?: { Attributes?: Record<string, unknown> } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      this.logger.warn({ line: line.slice(0, 200) }, 'unreadable Docker event ignored');
      return;
    }
    this.status.events++;
    const attributes = event.Actor?.Attributes;
    const service = this.swarm
      ? event.Type === 'service' ? attributes?.name : attributes?.[SWARM_SERVICE_LABEL]
      : attributes?.[SERVICE_LABEL];
    // Events of other services cannot change the list; events without labels might (a
    // container can lose them only by being replaced), so they trigger a list too.
    if (service !== undefined && service !== (this.swarm ? this.serviceName : this.options.groupName)) return;
    this.logger.debug({ action: event.Action, service }, 'Docker event');
    this.schedule();
  }

  /** A list after `debounceMs` of quiet: a burst of events costs one list. */
  private schedule(): void {
    if (this.stopped || !this.status.connected) return;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.list().catch((error: unknown) => this.failed(error));
    }, this.options.debounceMs);
  }

  private async list(): Promise<void> {
    const { backends, skipped } = this.swarm ? await this.listTasks() : await this.listContainers();
    this.status.lists++;
    this.status.skipped = skipped.map(({ name, reason }) => ({ name, reason }));
    const key = JSON.stringify([backends, skipped]);
    if (key === this.last) return;
    this.last = key;
    const what = this.swarm ? 'task' : 'container';
    for (const skip of skipped) this.logger.info({ [what]: skip.name, reason: skip.reason }, `${what} skipped`);
    this.logger.info({ backends: backends.map((b) => `${b.name}=${b.host}:${b.port}`) }, 'backends from Docker');
    this.onChange?.(backends);
  }

  private async listContainers(): Promise<Mapping> {
    const containers = (await this.docker.listContainers({
      filters: { label: [`${SERVICE_LABEL}=${this.options.groupName}`] },
    })) as ContainerSummary[];
    return containersToBackends(containers, {
      groupName: this.options.groupName,
      groupPort: this.options.groupPort,
      project: this.self?.project,
      networkName: this.options.networkName,
      ownNetworks: this.self?.networks ?? [],
    });
  }

  /** The tasks of the service (a manager's API): none, with a reason, when there is no such service. */
  private async listTasks(): Promise<Mapping> {
    const serviceName = this.serviceName;
    let serviceId: string;
    try {
      serviceId = ((await this.docker.getService(serviceName).inspect()) as { ID: string }).ID;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      return { backends: [], skipped: [{ id: serviceName, name: serviceName, reason: 'no such Swarm service' }] };
    }
    const tasks = (await this.docker.listTasks({ filters: { service: [serviceId], 'desired-state': ['running'] } })) as TaskSummary[];
    return tasksToBackends(tasks, {
      serviceName,
      groupPort: this.options.groupPort,
      networkName: this.options.networkName,
      stack: this.self?.stack,
      ownNetworks: this.self?.networks ?? [],
    });
  }

  /** Lists again every resyncMs, in case an event was lost (and for a Swarm's other hosts). */
  private startResync(): void {
    if (this.resync !== undefined) return;
    this.resync = setInterval(() => this.schedule(), this.options.resyncMs ?? (this.swarm ? SWARM_RESYNC_MS : 30_000));
    this.resync.unref();
  }

  /** The balancer's own project, stack and networks, when it runs in a container; else nothing. */
  private async inspectSelf(): Promise<Self> {
    const none: Self = { project: undefined, networks: [], swarmService: undefined, stack: undefined };
    if (this.options.selfId === undefined) return none;
    try {
      const info = await this.docker.getContainer(this.options.selfId).inspect();
      const labels = info.Config.Labels ?? {};
      const self: Self = {
        project: labels[PROJECT_LABEL],
        networks: Object.keys(info.NetworkSettings.Networks),
        swarmService: labels[SWARM_SERVICE_LABEL],
        stack: labels[STACK_LABEL],
      };
      this.logger.info(self, 'running in a container: following its project (or stack) and networks');
      return self;
    } catch (error) {
      // The API is not there yet: the caller retries.
      if ((error as { statusCode?: number }).statusCode === undefined) throw error;
      // Not a container (HOSTNAME is the machine's name): any project, any network.
      return none;
    }
  }

  private failed(error: unknown): void {
    this.status.connected = false;
    this.status.errors++;
    this.status.lastError = error instanceof Error ? error.message : String(error);
    if (this.stopped || this.retry !== undefined) return;
    this.failures++;
    const delay = backoffDelay(this.failures, RETRY_MIN_MS, RETRY_MAX_MS);
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.logger.warn({ err: this.status.lastError, retryMs: Math.round(delay), failures: this.failures }, 'Docker API unreachable: keeping the last backends, retrying');
    }
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, delay);
  }
}

/** `/path/docker.sock`, `unix:///path`, `http://host:port` or `tcp://host:port`. */
export function dockerConnection(location: string): Docker.DockerOptions {
  const unix = /^unix:\/\//.exec(location);
  if (location.startsWith('/') || unix !== null) return { socketPath: location.replace(/^unix:\/\//, '') };
  const url = new URL(location.replace(/^tcp:\/\//, 'http://'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' };
}
