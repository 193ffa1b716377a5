import { spawnSync } from 'node:child_process';
import { docker } from './engine';

/** This engine's part in a swarm: `inactive`, `active`, `pending`, `error` or `locked`. */
export function swarmState(): string {
  return docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
}

/**
 * One stack deployed from a stack file under a name of its own, so that it never touches
 * a user's stack. Every call runs `docker` with `env` added to the environment (the stack
 * file's variables).
 */
export class SwarmStack {
  constructor(
    readonly file: string,
    readonly name: string,
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Runs a docker command with the stack's environment; throws with its output when it fails. */
  run(args: string[], timeoutMs = 300_000): string {
    const result = spawnSync('docker', args, { env: { ...process.env, ...this.env }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output.slice(-6000)}`);
    return output;
  }

  deploy(): string {
    return this.run(['stack', 'deploy', '--resolve-image', 'never', '-c', this.file, this.name]);
  }

  remove(): string {
    return this.run(['stack', 'rm', this.name]);
  }

  /** The Swarm name of one of the stack's services. */
  service(name: string): string {
    return `${this.name}_${name}`;
  }

  /** `docker service scale`, without waiting for the tasks. */
  scale(name: string, replicas: number): string {
    return this.run(['service', 'scale', '--detach', `${this.service(name)}=${replicas}`]);
  }

  /** Ids of the running containers of the stack here, of one service when given. */
  containers(service?: string): string[] {
    const filters = ['--filter', `label=com.docker.stack.namespace=${this.name}`];
    if (service !== undefined) filters.push('--filter', `label=com.docker.swarm.service.name=${this.service(service)}`);
    return lines(docker(['ps', '-q', '--no-trunc', ...filters]));
  }

  /** Every container of the stack here, stopped ones too. */
  allContainers(): string[] {
    return lines(docker(['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.stack.namespace=${this.name}`]));
  }

  services(): string[] {
    return lines(docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`]));
  }

  networks(): string[] {
    return lines(docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`]));
  }

  /** The stack's volumes here (their names carry the stack's name: <stack>_data-<slot>). */
  volumes(): string[] {
    return lines(docker(['volume', 'ls', '-q', '--filter', `name=^${this.name}_`]));
  }

  /** A container's address on the stack's network `network`. */
  address(id: string, network = 'mesh'): string {
    return docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${this.name}_${network}").IPAddress}}`, id]);
  }

  /** The task slot of one of the stack's containers. */
  slot(id: string): number {
    return Number(docker(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.task.name"}}', id]).split('.')[1]);
  }

  /** Service logs, the last lines of each service (for a failed test). */
  logs(tail = 40): string {
    return this.services()
      .map((id) => {
        const result = spawnSync('docker', ['service', 'logs', '--no-task-ids', '--tail', String(tail), id], { encoding: 'utf8', timeout: 30_000 });
        return `${result.stdout ?? ''}${result.stderr ?? ''}`;
      })
      .join('\n');
  }
}

/**
 * Reads `path` of each URL, with the key, from inside `container` (which must be on the
 * stack's network: task addresses are not reachable from the host). Each answer is its
 * JSON, or `{ error }`.
 */
export function fetchInside(container: string, key: string, path: string, urls: readonly string[]): unknown[] {
  const script = [
    'const [key, path, ...urls] = process.argv.slice(1);',
    "const one = (u) => fetch(u + path, { headers: { authorization: 'Bearer ' + key }, signal: AbortSignal.timeout(4000) })",
    '  .then((r) => (r.ok ? r.json() : { error: r.status })).catch((e) => ({ error: String(e) }));',
    'Promise.all(urls.map(one)).then((a) => console.log(JSON.stringify(a)));',
  ].join('\n');
  return JSON.parse(docker(['exec', container, 'node', '-e', script, key, path, ...urls])) as unknown[];
}

function lines(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}
