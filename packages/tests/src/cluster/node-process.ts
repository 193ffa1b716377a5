import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { Agent, request } from 'undici';
import * as path from 'node:path';
import type { NodeStatus } from '@meshkv/client';
import { NODE_FLAGS } from '@meshkv/database';
import { freePort, pinned } from '../bench/processes';

/** The built database node (`npm run build` makes it), found through the workspace link. */
export const DATABASE_ENTRY = path.join(path.dirname(require.resolve('@meshkv/database/package.json')), 'dist', 'main.js');

/** `node`'s arguments for a node, as the Dockerfile and `npm start` give them: NODE_FLAGS, then the entry. */
export const DATABASE_ARGS: readonly string[] = [...NODE_FLAGS, DATABASE_ENTRY];

export interface NodeStartOptions {
  readonly port?: number;
  /** CPUs to pin it to (taskset). */
  readonly cpus?: string;
  /** The address it binds and advertises (default 127.0.0.1). */
  readonly host?: string;
  /** A command that runs it (`ip netns exec NS`): the node's command follows its words; it must exec, not fork. */
  readonly wrap?: readonly string[];
  /** The CA of the node's certificate, when it serves TLS (for the requests of this class). */
  readonly caFile?: string;
  /** Do not wait for /healthcheck: the node is expected to refuse to start (see ended). */
  readonly expectExit?: boolean;
}

/**
 * One database node as a real process on 127.0.0.1, for mesh scenarios, stress runs and
 * benchmarks. It can be killed, frozen, thawed and restarted on the same port (same
 * environment, so same seeds; a new process means a new incarnation).
 */
export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private dispatcher: Agent | undefined;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly env: Record<string, string>,
    private readonly options: NodeStartOptions,
  ) {}

  /** The address it listens on and is reached at (127.0.0.1 unless `options.host`). */
  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** https:// when the node serves TLS (TLS_CERT_FILE or MESH_TLS_CERT_FILE in its environment). */
  get url(): string {
    const secure = this.env.TLS_CERT_FILE !== undefined || this.env.MESH_TLS_CERT_FILE !== undefined;
    return `${secure ? 'https' : 'http'}://${this.host}:${this.port}`;
  }

  /**
   * GET `path` of the node with its ADMIN_KEY (if any), trusting `options.caFile` over TLS;
   * resolves with the status and body, rejects when nothing answers.
   */
  async get(path: string, timeoutMs = 5000): Promise<{ status: number; text: string }> {
    const caFile = this.options.caFile;
    this.dispatcher ??= caFile === undefined ? undefined : new Agent({ connect: { ca: fs.readFileSync(caFile) } });
    const res = await request(`${this.url}${path}`, {
      headers: this.adminHeaders,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process wrote (its JSON log lines), for diagnosing a failed scenario. */
  /** The headers of a request with the node's ADMIN_KEY, if it has one (else none are needed). */
  get adminHeaders(): Record<string, string> {
    const key = this.env.ADMIN_KEY;
    return key === undefined ? {} : { authorization: `Bearer ${key}` };
  }

  get log(): string {
    return this.output;
  }

  /**
   * Starts a node on a free port (or `options.port`), pinned to `options.cpus` (taskset)
   * when given, and waits until it answers /healthcheck.
   */
  static async start(name: string, env: Record<string, string>, options: NodeStartOptions = {}): Promise<NodeProcess> {
    const chosen = options.port ?? (await freePort());
    const node = new NodeProcess(name, chosen, env, options);
    await node.spawn();
    return node;
  }

  /** Waits until the process has ended by itself (a node refusing to start); its exit code. */
  async ended(timeoutMs: number): Promise<number | null> {
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'late') throw new Error(`${this.name} still runs after ${timeoutMs} ms`);
    return this.child?.exitCode ?? null;
  }

  /** Starts the process again on the same port, with the same environment. */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is still running`);
    await this.spawn();
  }

  /** SIGKILL: no goodbye, nothing flushed. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGTERM and wait (SIGKILL after 5 s); also thaws a frozen process first. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGCONT');
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    await dispatcher?.destroy();
  }

  async status(): Promise<NodeStatus> {
    const res = await this.get('/status');
    if (res.status !== 200) throw new Error(`${this.name}: /status answered ${res.status}: ${res.text}`);
    return JSON.parse(res.text) as NodeStatus;
  }

  private async spawn(): Promise<void> {
    this.output = '';
    const [pinnedCommand, pinnedArgs] = pinned(this.options.cpus, process.execPath, [...DATABASE_ARGS]);
    const wrap = this.options.wrap ?? [];
    const [command, args] = wrap.length === 0 ? [pinnedCommand, pinnedArgs] : [wrap[0] as string, [...wrap.slice(1), pinnedCommand, ...pinnedArgs]];
    const child = spawn(command, args, {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(this.port),
        BIND_ADDRESS: this.host,
        HOSTNAME: this.name,
        ADVERTISE_URL: this.url,
        LOG_LEVEL: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer): void => {
      // The last few MB of output: enough for the logs of a whole test at LOG_LEVEL=debug.
      this.output += chunk.toString('utf8');
      if (this.output.length > 8_000_000) this.output = this.output.slice(-4_000_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    if (this.options.expectExit === true) return;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited at start:\n${this.output}`);
      try {
        if ((await this.get('/healthcheck', 1000)).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.crash();
        throw new Error(`${this.name} did not answer on ${this.url} within 15 s:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
