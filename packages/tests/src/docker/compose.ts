import { spawn, spawnSync } from 'node:child_process';
import { docker } from './engine';

export interface CommandResult {
  code: number | null;
  output: string;
}

/**
 * One Compose project made from the repository's docker-compose.yaml, under a project name
 * of its own so that it never touches a user's project. Every call runs the Compose
 * command given (`docker compose` or `docker-compose`) in the repository with `env` added
 * to the environment.
 */
export class ComposeProject {
  constructor(
    private readonly command: readonly string[],
    readonly directory: string,
    readonly project: string,
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Runs a Compose command to its end; throws with its output when it fails. */
  run(args: string[], timeoutMs = 600_000): string {
    const result = spawnSync(this.command[0] as string, [...this.command.slice(1), '-p', this.project, ...args], {
      cwd: this.directory,
      env: { ...process.env, ...this.env },
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.status !== 0) {
      throw new Error(`${this.command.join(' ')} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output.slice(-6000)}`);
    }
    return output;
  }

  /** Starts a Compose command in the background; resolves with its exit code and output. */
  start(args: string[], timeoutMs: number): Promise<CommandResult> {
    return startCommand([...this.command, '-p', this.project, ...args], { cwd: this.directory, env: this.env }, timeoutMs);
  }

  /** Ids of the project's containers (running or not), of one service when given. */
  containers(service?: string, all = false): string[] {
    const filters = ['--filter', `label=com.docker.compose.project=${this.project}`];
    if (service !== undefined) filters.push('--filter', `label=com.docker.compose.service=${service}`);
    return docker(['ps', '-q', '--no-trunc', ...(all ? ['-a'] : []), ...filters])
      .split('\n')
      .filter(Boolean);
  }

  /** Networks Compose made for the project. */
  networks(): string[] {
    return docker(['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${this.project}`])
      .split('\n')
      .filter(Boolean);
  }

  /** Named volumes of the project. */
  volumes(): string[] {
    return docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${this.project}`])
      .split('\n')
      .filter(Boolean);
  }
}

/**
 * Starts a command in the background (`env` added to the environment); resolves with its
 * exit code and the last 200 kB of its output. Killed after `timeoutMs`.
 */
export function startCommand(command: readonly string[], options: { cwd: string; env: Readonly<Record<string, string>> }, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command[0] as string, command.slice(1), { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A container's address on its (first) network. */
export function containerAddress(id: string): string {
  return docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', id]).split(' ')[0] ?? '';
}
