import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The fault lab: each node in a network namespace of its own (`mkvf-n1`…), joined to the
 * test process by a bridge (`mkvf-br`, 10.77.0.1; node i is 10.77.0.(10+i)); faults made
 * with the real tools: iptables in a node's namespace (partitions, packet loss), `tc tbf`
 * (bandwidth), a small tmpfs (a full disk), libfaketime (a clock off). Everything it makes
 * carries the `mkvf` prefix and is removed by `tearDown()`, and by the next `setUp()` if a
 * run was killed before it could.
 */

const PREFIX = 'mkvf';
const BRIDGE = `${PREFIX}-br`;
const SUBNET = '10.77.0';
/** libfaketime, as Debian installs it. */
const FAKETIME_LIBRARY = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** Runs a command, throwing with its stderr when it fails. */
export function run(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

/** Runs a command whose failure does not matter (removing what may not be there). */
function attempt(command: string, args: readonly string[]): void {
  spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why the lab cannot run here, after installing what is missing from Debian's packages
 * (as root, with apt-get); undefined when it can.
 */
export function labProblem(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces, iptables and mounts need root';
  const missing = [
    ['ip', 'iproute2'],
    ['tc', 'iproute2'],
    ['iptables', 'iptables'],
  ]
    .filter(([command]) => !has(command as string))
    .map(([, pkg]) => pkg as string);
  if (!fs.existsSync(FAKETIME_LIBRARY)) missing.push('faketime');
  if (missing.length > 0) {
    if (!fs.existsSync('/usr/bin/apt-get')) return `missing ${[...new Set(missing)].join(', ')} and no apt-get to install them`;
    process.stdout.write(`  installing ${[...new Set(missing)].join(' ')} (apt-get)\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...new Set(missing)], { stdio: 'inherit', env });
  }
  const probe = `${PREFIX}-probe`;
  attempt('ip', ['netns', 'del', probe]);
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.status !== 0) return `cannot make a network namespace: ${made.stderr.trim()}`;
  const rules = spawnSync('ip', ['netns', 'exec', probe, 'iptables', '-L', '-n'], { encoding: 'utf8' });
  attempt('ip', ['netns', 'del', probe]);
  if (rules.status !== 0) return `iptables does not work in a network namespace: ${rules.stderr.trim()}`;
  return undefined;
}

/** One node's place in the lab. */
export interface LabHost {
  readonly index: number;
  readonly namespace: string;
  readonly address: string;
  /** Prefix of the command that runs a process in its namespace. */
  readonly wrap: readonly string[];
}

export class FaultLab {
  readonly hosts: LabHost[] = [];
  private readonly mounts: string[] = [];
  private readonly folders: string[] = [];

  constructor(readonly size: number) {}

  /** The bridge and one namespace per node, each with a veth on the bridge. */
  setUp(): void {
    this.removeLeftovers();
    run('ip', ['link', 'add', 'name', BRIDGE, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${SUBNET}.1/24`, 'dev', BRIDGE]);
    run('ip', ['link', 'set', BRIDGE, 'up']);
    // Where Docker runs, bridged traffic may pass the host's FORWARD chain (policy DROP).
    run('iptables', ['-I', 'FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT']);
    for (let index = 1; index <= this.size; index++) {
      const namespace = `${PREFIX}-n${index}`;
      const veth = `${PREFIX}-v${index}`;
      const address = `${SUBNET}.${10 + index}`;
      run('ip', ['netns', 'add', namespace]);
      run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
      run('ip', ['link', 'set', veth, 'master', BRIDGE, 'up']);
      run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      this.hosts.push({ index, namespace, address, wrap: ['ip', 'netns', 'exec', namespace] });
    }
  }

  /** Removes every namespace, link, rule and mount this lab (or an earlier, killed run) made. */
  tearDown(): void {
    for (const mount of this.mounts.splice(0)) attempt('umount', ['-l', mount]);
    for (const folder of this.folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true });
    this.removeLeftovers();
    this.hosts.length = 0;
  }

  /** iptables in a host's namespace (its own tables). */
  iptables(host: LabHost, args: readonly string[]): void {
    run('ip', ['netns', 'exec', host.namespace, 'iptables', ...args]);
  }

  /** `from` hears nothing from `to` (packets from `to` dropped at `from`): one way. */
  deafen(from: LabHost, to: LabHost): void {
    this.iptables(from, ['-A', 'INPUT', '-s', to.address, '-j', 'DROP']);
  }

  /** Cuts the hosts of `side` from every other node, both ways (the test process reaches all). */
  partition(side: readonly LabHost[]): void {
    for (const inside of side) {
      for (const outside of this.hosts.filter((host) => !side.includes(host))) {
        this.deafen(inside, outside);
        this.deafen(outside, inside);
      }
    }
  }

  /** Every node alone. */
  isolateAll(): void {
    for (const host of this.hosts) for (const other of this.hosts) if (other !== host) this.deafen(host, other);
  }

  /** Drops this share of the packets a host receives from the other nodes (iptables statistic). */
  loseShare(host: LabHost, probability: number): void {
    this.iptables(host, ['-A', 'INPUT', '-s', `${SUBNET}.1`, '-j', 'ACCEPT']); // the test process
    this.iptables(host, ['-A', 'INPUT', '-s', `${SUBNET}.0/24`, '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP']);
  }

  /** Caps what a host sends (tc tbf on its interface). */
  capBandwidth(host: LabHost, rate: string): void {
    run('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', rate, 'burst', '32kbit', 'latency', '400ms']);
  }

  /** Removes every rule and cap: the network is whole again. */
  heal(): void {
    for (const host of this.hosts) {
      this.iptables(host, ['-F', 'INPUT']);
      attempt('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  }

  /** A folder on a tmpfs of `bytes`, removed at tearDown. */
  smallDisk(bytes: number): string {
    const folder = this.folder('disk');
    run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, `${PREFIX}-tmpfs`, folder]);
    this.mounts.push(folder);
    return folder;
  }

  /** A folder in the OS temp dir, removed at tearDown. */
  folder(name: string): string {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-${name}-`));
    this.folders.push(made);
    return made;
  }

  /** Environment that makes a process's wall clock run `offsetS` seconds off (libfaketime; timers unaffected). */
  static clockOff(offsetS: number): Record<string, string> {
    return { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: `${offsetS >= 0 ? '+' : ''}${offsetS}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
  }

  private removeLeftovers(): void {
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of namespaces.split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name.startsWith(`${PREFIX}-`)) attempt('ip', ['netns', 'del', name]);
    }
    attempt('ip', ['link', 'del', BRIDGE]);
    // A host's end of a veth outlives its namespace while the kernel has not yet freed
    // the namespace (sockets of its processes still closing): deleting it deletes both ends.
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of links.split('\n')) {
      const name = (line.split(': ')[1] ?? '').split('@')[0] ?? '';
      if (name.startsWith(`${PREFIX}-`)) attempt('ip', ['link', 'del', name]);
    }
    // The FORWARD rule, as often as an earlier run may have left it.
    for (let left = 0; left < 10; left++) {
      if (spawnSync('iptables', ['-D', 'FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT'], { stdio: 'ignore' }).status !== 0) break;
    }
    const mounts = fs.existsSync('/proc/mounts') ? fs.readFileSync('/proc/mounts', 'utf8') : '';
    for (const line of mounts.split('\n')) {
      const [device, where] = line.split(' ');
      if (device === `${PREFIX}-tmpfs` && where !== undefined) attempt('umount', ['-l', where]);
    }
  }
}
