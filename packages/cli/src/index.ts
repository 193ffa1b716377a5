import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type EventStream, MeshKvClient, MeshKvError, type NodeStatus, StreamError, type WriteOptions } from '@meshkv/client';
import { table } from './table';

/** Where the command writes, and the environment it reads (MESHKV_URL, MESHKV_KEY, MESHKV_CA_FILE). */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes scripts can test (docs/cli.md). */
export const EXIT = { ok: 0, notFound: 1, usage: 2, failed: 3 } as const;

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** ms a peer of `cluster` gets to answer its /status. */
const PEER_TIMEOUT_MS = 2000;

interface GlobalOptions {
  readonly url: string;
  readonly key?: string;
  readonly ca?: string;
  readonly json: boolean;
  readonly timeout: number;
}

/** What every client of one run shares: the key, the CA (read once) and the timeout. */
type ClientOf = (url: string, extra?: { timeoutMs?: number; connections?: number }) => MeshKvClient;

/** A key that is not there: exit 1, whatever the command. */
class NotFound extends Error {}

/** A tool run by `stress` or `bench` ended with `exitCode` (its own output said why), or could not start. */
class ToolFailed extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

/** --ca names a file that cannot be read. */
function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new CommanderError(EXIT.usage, 'meshkv.caFile', `--ca (MESHKV_CA_FILE) names a file that cannot be read: ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

const COMMANDS = ['get', 'set', 'rm', 'is', 'ttl', 'keys', 'scan', 'watch', 'publish', 'subscribe', 'status', 'cluster', 'stress', 'bench', 'completion'] as const;

/**
 * Runs `meshkv` with `argv` (without the node and script names) and resolves to its exit
 * code; never calls process.exit, so tests run it in-process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let client: MeshKvClient | undefined;
  let options: GlobalOptions | undefined;
  const out = (text: string): void => void io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const json = (value: unknown): void => out(JSON.stringify(value));
  /** `value` as JSON with --json, else `text` for people. */
  const print = (value: unknown, text: string): void => (options?.json === true ? json(value) : out(text));
  const connect = (program: Command): { client: MeshKvClient; options: GlobalOptions; clientOf: ClientOf } => {
    const chosen = program.opts<GlobalOptions>();
    options = chosen;
    const ca = readCa(chosen.ca);
    const clientOf: ClientOf = (url, extra = {}) =>
      new MeshKvClient({
        url,
        timeoutMs: chosen.timeout,
        ...extra,
        ...(chosen.key === undefined ? {} : { apiKey: chosen.key }),
        ...(ca === undefined ? {} : { tls: { ca } }),
      });
    client = clientOf(chosen.url);
    return { client, options: chosen, clientOf };
  };

  const program = new Command('meshkv')
    .description('The command line of MeshKV: read and write keys, and see the state of a node and its mesh.')
    // The environment is the io's (a test's, or the process's), not read by commander itself.
    .addOption(new Option('--url <url>', 'a node or the balancer (env MESHKV_URL)').default(io.env.MESHKV_URL ?? DEFAULT_URL))
    .addOption(new Option('--key <key>', 'an API key, sent as Bearer (env MESHKV_KEY)').default(io.env.MESHKV_KEY))
    .addOption(new Option('--ca <file>', "the CA that signed the node's certificate, for https (env MESHKV_CA_FILE)").default(io.env.MESHKV_CA_FILE))
    .addOption(new Option('--timeout <ms>', 'ms for each request').default(10_000).argParser(positiveInt))
    .option('--json', 'machine-readable output (one JSON document per line)', false)
    .exitOverride()
    .configureOutput({ writeOut: (text) => void io.stdout.write(text), writeErr: (text) => void io.stderr.write(text) })
    .showHelpAfterError('(meshkv --help lists the commands)');

  const write = (command: Command): Command =>
    command
      .option('--w <n>', 'write concern: a number of nodes, majority or all', writeConcern)
      .option('--wtimeout <ms>', 'ms to wait for the acknowledgements', positiveInt);
  const concern = (flags: { w?: WriteOptions['w']; wtimeout?: number }): WriteOptions => ({
    ...(flags.w === undefined ? {} : { w: flags.w }),
    ...(flags.wtimeout === undefined ? {} : { wtimeout: flags.wtimeout }),
  });

  program
    .command('get <key>')
    .description('prints the value of a key (exit 1: no such key)')
    .action(async (key: string) => {
      const { client } = connect(program);
      const value = await client.get(key);
      if (value === undefined) throw new NotFound(`no key ${JSON.stringify(key)}`);
      print({ k: key, v: value }, value);
    });

  write(program.command('set <key> <value>'))
    .description('writes a value')
    .option('--ttl <ttl>', 'expire after this long: ms, or with a unit (30s, 10m, 2h, 1d)')
    .action(async (key: string, value: string, flags: { ttl?: string; w?: WriteOptions['w']; wtimeout?: number }) => {
      const { client } = connect(program);
      await client.set(key, value, { ...concern(flags), ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }) });
      print({ success: true }, 'OK');
    });

  write(program.command('rm <key>'))
    .description('removes a key (exit 1: no such key)')
    .action(async (key: string, flags: { w?: WriteOptions['w']; wtimeout?: number }) => {
      const { client } = connect(program);
      const removed = await client.rm(key, concern(flags));
      if (!removed) throw new NotFound(`no key ${JSON.stringify(key)}`);
      print({ success: true }, 'OK');
    });

  program
    .command('is <key>')
    .description('exit 0 when the key holds a value, 1 when not')
    .action(async (key: string) => {
      const { client } = connect(program);
      const held = await client.is(key);
      print({ k: key, exists: held }, String(held));
      if (!held) throw new NotFound('');
    });

  program
    .command('ttl <key>')
    .description('ms before the key expires, or "none" (exit 1: no such key)')
    .action(async (key: string) => {
      const { client } = connect(program);
      const ttl = await client.ttl(key);
      if (ttl === undefined) throw new NotFound(`no key ${JSON.stringify(key)}`);
      print({ k: key, ttlMs: ttl }, ttl === null ? 'none' : String(ttl));
    });

  program
    .command('keys [prefix]')
    .description('every key (that starts with prefix), one per line')
    .action(async (prefix: string | undefined) => {
      const { client, options } = connect(program);
      const keys = await client.keys(prefix);
      if (options.json) json(keys);
      else if (keys.length > 0) out(keys.join('\n'));
    });

  program
    .command('scan')
    .description('keys and values in key order, page by page as they come (key, a tab, the value)')
    .option('--prefix <prefix>', 'only keys that start with it')
    .option('--limit <n>', 'keys per page', positiveInt, 100)
    .option('--keys-only', 'keys without their values', false)
    .action(async (flags: { prefix?: string; limit: number; keysOnly: boolean }) => {
      const { client } = connect(program);
      const base = { limit: flags.limit, ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }) };
      let after: string | undefined;
      do {
        const scope = { ...base, ...(after === undefined ? {} : { after }) };
        const page = flags.keysOnly ? await client.scanKeys(scope) : await client.scan(scope);
        for (const item of page.items as (string | { k: string; v: string })[]) print(item, typeof item === 'string' ? item : `${item.k}\t${item.v}`);
        after = page.next ?? undefined;
      } while (after !== undefined);
    });

  /** Prints each event of `stream` (`line` for people, the event itself with --json), `count` of them at most. */
  const follow = async <T extends { type: string }>(stream: EventStream<T>, count: number | undefined, line: (event: T) => string): Promise<void> => {
    let printed = 0;
    if (count === 0) return stream.close();
    for await (const event of stream) {
      print(event, line(event));
      if (count !== undefined && ++printed >= count) break;
    }
  };
  const transportOf = (flags: { ws: boolean }): { transport: 'sse' | 'websocket' } => ({ transport: flags.ws ? 'websocket' : 'sse' });

  program
    .command('watch')
    .description('prints each change as the node applies it (type, key, value, a tab between), until interrupted; it reconnects by itself after its last event')
    .option('--key <key>', 'one key')
    .option('--prefix <prefix>', 'the keys that start with it (default: every key)')
    .option('--after <id>', 'continue after this event id (printed with --json)')
    .option('--count <n>', 'stop after this many events', positiveInt)
    .option('--ws', 'over a WebSocket (default: server-sent events)', false)
    .action(async (flags: { key?: string; prefix?: string; after?: string; count?: number; ws: boolean }) => {
      const { client } = connect(program);
      const scope = { ...(flags.key === undefined ? {} : { key: flags.key }), ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }), ...(flags.after === undefined ? {} : { after: flags.after }) };
      await follow(client.watch(scope, transportOf(flags)), flags.count, (event) => [event.type, event.k ?? '*', event.v ?? ''].join('\t').trimEnd());
    });

  program
    .command('publish <topic> <message>')
    .description('sends a message to every subscriber of the topic, on every node; prints the subscribers reached on the node asked')
    .action(async (topic: string, message: string) => {
      const { client } = connect(program);
      const reached = await client.publish(topic, message);
      print({ success: true, subscribers: reached }, String(reached));
    });

  program
    .command('subscribe <topic>')
    .description('prints each message of the topic as it comes, until interrupted (messages are not kept: only those sent while it runs)')
    .option('--count <n>', 'stop after this many messages', positiveInt)
    .option('--ws', 'over a WebSocket (default: server-sent events)', false)
    .action(async (topic: string, flags: { count?: number; ws: boolean }) => {
      const { client } = connect(program);
      await follow(client.subscribe(topic, transportOf(flags)), flags.count, (message) => message.m);
    });

  program
    .command('status')
    .description("one node's state (the whole /status with --json)")
    .action(async () => {
      const { client, options } = connect(program);
      const status = await client.status();
      if (options.json) {
        json(status);
        return;
      }
      out(
        [
          `node      ${status.nodeId} (${status.advertiseUrl}), MeshKV ${status.version}`,
          `ready     ${String(status.ready)}${status.shuttingDown ? ' (shutting down)' : ''}`,
          `records   ${status.availableRecords} (${status.tombstones} tombstones, ${status.expiry.expiring} expiring)`,
          `storage   ${status.storage}${status.storageFault === null ? '' : ` (${status.storageFault.kind}: ${status.storageFault.message})`}`,
          `peers     ${status.peers.length} (${countBy(status.peers.map((peer) => peer.state))})`,
          `uptime    ${Math.round(status.uptimeMs / 1000)} s`,
        ].join('\n'),
      );
    });

  program
    .command('cluster')
    .description('every node of the mesh as a table: id, URL, state, records, outbox, lag, ready')
    .action(async () => {
      const { client, options, clientOf } = connect(program);
      const rows = await clusterRows(await client.status(), (url) => clientOf(url, { timeoutMs: Math.min(options.timeout, PEER_TIMEOUT_MS), connections: 1 }));
      if (options.json) {
        json(rows);
        return;
      }
      const cell = (value: number | boolean | string | null): string => (value === null ? '-' : String(value));
      out(
        table(
          ['ID', 'URL', 'STATE', 'RECORDS', 'OUTBOX', 'LAG_MS', 'READY'],
          rows.map((row) => [row.nodeId ?? '?', row.url, row.state, cell(row.records), cell(row.outbox), cell(row.lagMs), cell(row.ready)]),
        ),
      );
    });

  program
    .command('stress')
    .description('load --url with the stress tool (npm run stress): a mix of operations, then a report of throughput, latency and errors')
    .option('--amount <n>', 'requests in all (STRESS_AMOUNT)', positiveInt)
    .option('--duration <time>', 'a time instead, like 30s or 2m (STRESS_DURATION)')
    .option('--workers <n>', 'requests in flight per thread (STRESS_WORKERS)', positiveInt)
    .option('--clusters <n>', 'worker threads (STRESS_CLUSTERS)', positiveInt)
    .option('--mix <mix>', 'operations and weights, like get:9,set:1 (STRESS_MIX)')
    .option('--report <file>', 'also write the report as JSON to this file')
    .action(async (flags: { amount?: number; duration?: string; workers?: number; clusters?: number; mix?: string; report?: string }) => {
      const chosen = program.opts<GlobalOptions>();
      const env: Record<string, string | undefined> = {
        SERVICE_URL: chosen.url,
        SERVICE_KEY: chosen.key,
        SERVICE_CA_FILE: chosen.ca,
        STRESS_AMOUNT: flags.amount?.toString(),
        STRESS_DURATION: flags.duration,
        STRESS_WORKERS: flags.workers?.toString(),
        STRESS_CLUSTERS: flags.clusters?.toString(),
        STRESS_MIX: flags.mix,
      };
      await runTool('stress', flags.report === undefined ? [] : ['--json', flags.report], env, io);
    });

  program
    .command('bench')
    .description('the benchmarks (npm run bench): each figure against its reference in the same run, written to docs/benchmarks.md; BENCH_* settings from the environment')
    .action(async () => {
      await runTool('bench', [], {}, io);
    });

  program
    .command('completion')
    .description('a bash completion script: eval "$(meshkv completion)"')
    .action(() => {
      out(`complete -o default -W "${COMMANDS.join(' ')} --url --key --ca --json --timeout --help" meshkv`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return failure(error, io, options?.json ?? argv.includes('--json'));
  } finally {
    await client?.close();
  }
}

/** The test package's tools the `stress` and `bench` commands run. */
const TOOLS = { stress: 'dist/stress/index.js', bench: 'dist/bench/index.js' } as const;

/**
 * Runs a tool of the test package as a process of its own (its workers and its exit are its
 * own), its output passed on; a tool that fails gives its exit code.
 */
async function runTool(tool: keyof typeof TOOLS, args: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<void> {
  let entry: string;
  try {
    entry = path.join(path.dirname(require.resolve('@meshkv/tests/package.json')), TOOLS[tool]);
  } catch {
    throw new ToolFailed(EXIT.failed, `the ${tool} tool is not installed here (the @meshkv/tests package): run it from the repository, after npm ci && npm run build`);
  }
  const given = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, ...io.env, ...given }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => void io.stdout.write(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => void io.stderr.write(chunk.toString('utf8')));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode ?? EXIT.failed));
  });
  if (code !== 0) throw new ToolFailed(code);
}

/** One line of `cluster`. */
export interface ClusterRow {
  readonly nodeId: string | null;
  readonly url: string;
  /** `self` for the node asked; else its view of the peer: alive, suspect or down. */
  readonly state: string;
  /** Keys holding a value, from the node's own /status (null: it did not answer). */
  readonly records: number | null;
  /** Records the node asked holds for it, not sent yet (null for itself). */
  readonly outbox: number | null;
  /** ms since the node asked last heard from it (null for itself, or never). */
  readonly lagMs: number | null;
  readonly ready: boolean | null;
}

/** The node asked, then each of its peers as it sees them, with what each peer says of itself. */
async function clusterRows(self: NodeStatus, peerClient: (url: string) => MeshKvClient): Promise<ClusterRow[]> {
  const peers = await Promise.all(
    self.peers.map(async (peer) => {
      const other = peerClient(peer.url);
      try {
        const status = peer.state === 'down' ? undefined : await other.status().catch(() => undefined);
        return {
          nodeId: peer.nodeId,
          url: peer.url,
          state: peer.state,
          records: status?.availableRecords ?? null,
          outbox: peer.outbox,
          lagMs: peer.lastContactMs,
          ready: status?.ready ?? null,
        };
      } finally {
        await other.close();
      }
    }),
  );
  return [{ nodeId: self.nodeId, url: self.advertiseUrl, state: 'self', records: self.availableRecords, outbox: null, lagMs: null, ready: self.ready }, ...peers];
}

function failure(error: unknown, io: CliIo, asJson: boolean): number {
  if (error instanceof CommanderError) {
    // --help ends here too, with code 0; commander printed its own errors, not ours.
    if (error.exitCode === 0) return EXIT.ok;
    if (error.code.startsWith('meshkv.')) io.stderr.write(`meshkv: ${error.message}\n`);
    return EXIT.usage;
  }
  const say = (code: string, message: string, exit: number): number => {
    if (asJson) io.stderr.write(`${JSON.stringify({ error: code, message })}\n`);
    else if (message !== '') io.stderr.write(`meshkv: ${message}\n`);
    return exit;
  };
  if (error instanceof NotFound) return say('NOT_FOUND', error.message, EXIT.notFound);
  if (error instanceof ToolFailed) return say('TOOL_FAILED', error.message, error.exitCode);
  if (error instanceof StreamError) {
    // 410: the id cannot be continued from (read the keys again); a refusal as any request's.
    const exit = error.status === 400 || error.status === 410 ? EXIT.usage : EXIT.failed;
    return say(error.code, `${error.code}: ${error.message}`, exit);
  }
  if (error instanceof MeshKvError) {
    // A request the node refused as bad input is a usage error; a key it has not, not found.
    const exit = error.status === 404 ? EXIT.notFound : error.status === 400 || error.status === 413 || error.status === 414 ? EXIT.usage : EXIT.failed;
    return say(error.code, `${error.code}: ${error.message}`, exit);
  }
  const message = error instanceof Error ? describe(error) : String(error);
  return say('FAILED', message, EXIT.failed);
}

/** A network error with its cause (undici puts the errno there). */
function describe(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as NodeJS.ErrnoException).code ?? (cause as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? error.message : `${error.message} (${code})`;
}

/** `--w`: all, majority or a number of nodes (the node checks the number). */
function writeConcern(text: string): NonNullable<WriteOptions['w']> {
  if (text === 'all' || text === 'majority') return text;
  return positiveInt(text);
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError('a whole number of at least 1 is expected.');
  return value;
}

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts.size === 0 ? 'none' : [...counts].map(([value, count]) => `${count} ${value}`).join(', ');
}
