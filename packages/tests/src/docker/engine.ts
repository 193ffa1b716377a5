import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Getting a Docker engine for the Docker tests: use the one running; else, as root on a
 * Debian-like machine, install Debian's docker.io (with apt-get) and start `dockerd`.
 * In CI (CI=true) failing to get one is an error; elsewhere the tests are skipped with a
 * message saying why.
 */

export function docker(args: string[], input?: string): string {
  return execFileSync('docker', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

export function dockerRuns(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

let startedHere = false;

/** True when this process started the daemon (so it may also restart it). */
export function daemonStartedHere(): boolean {
  return startedHere;
}

/** Starts `dockerd` in the background (logs in the OS temp dir) and waits for it. */
export async function startDaemon(timeoutMs = 60_000): Promise<void> {
  const log = fs.openSync(path.join(process.env.TMPDIR ?? '/tmp', 'meshkv-dockerd.log'), 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  startedHere = true;
  const deadline = Date.now() + timeoutMs;
  while (!dockerRuns()) {
    if (Date.now() > deadline) throw new Error('dockerd did not answer within 60 s (see meshkv-dockerd.log in the temp dir)');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Stops the daemon this machine runs (SIGTERM to dockerd) and waits until it is gone. */
export async function stopDaemon(timeoutMs = 60_000): Promise<void> {
  const pids = spawnSync('pidof', ['dockerd'], { encoding: 'utf8' }).stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (spawnSync('pidof', ['dockerd']).status === 0) {
    if (Date.now() > deadline) throw new Error('dockerd did not stop within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Undefined when an engine answers; otherwise why not (after trying to get one). */
export async function ensureDocker(): Promise<string | undefined> {
  if (dockerRuns()) return undefined;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasDockerd = spawnSync('dockerd', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (!hasDockerd) {
    if (!root || !fs.existsSync('/usr/bin/apt-get')) return 'Docker is not installed (install docker.io, or run as root on Debian to let the tests do it)';
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', 'docker.io', 'docker-compose', 'iptables'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!root) return 'the Docker daemon is not running, and only root can start it';
  try {
    await startDaemon();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

/**
 * How to call Compose here: `docker compose` (v2 plugin) when it answers, else the
 * standalone `docker-compose` (v1.29), installed from Debian's packages as root when
 * neither is there. Undefined, with `why`, when there is none.
 */
export function composeCommand(): { command: string[] } | { why: string } {
  const answers = (command: string[]): boolean =>
    spawnSync(command[0] as string, [...command.slice(1), 'version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  if (answers(['docker', 'compose'])) return { command: ['docker', 'compose'] };
  if (answers(['docker-compose'])) return { command: ['docker-compose'] };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !fs.existsSync('/usr/bin/apt-get')) return { why: 'neither `docker compose` nor `docker-compose` is installed' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', 'docker-compose'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return answers(['docker-compose']) ? { command: ['docker-compose'] } : { why: 'docker-compose did not run after installing it' };
}

/** Builds `tag` with one of scripts/docker/, unless the engine has it already. */
function ensureImage(script: string, tag: string): string {
  if (spawnSync('docker', ['image', 'inspect', tag], { stdio: 'ignore' }).status === 0) return tag;
  const file = path.resolve(path.dirname(require.resolve('@meshkv/tests/package.json')), '..', '..', 'scripts', 'docker', script);
  execFileSync('sh', [file, tag], { stdio: 'inherit' });
  return tag;
}

/** The base image made from this machine's Node.js (scripts/docker/node-base-image.sh). */
export function ensureNodeImage(tag = 'meshkv-node-base:local'): string {
  return ensureImage('node-base-image.sh', tag);
}

/**
 * The image that compiles the balancer's native pump, made from this machine's Debian
 * packages (scripts/docker/compiler-image.sh); as root, gcc and libc6-dev are installed
 * first when missing.
 */
export function ensureCompilerImage(tag = 'meshkv-compiler:local'): string {
  const haveCompiler = spawnSync('dpkg-query', ['-W', 'gcc', 'libc6-dev'], { stdio: 'ignore' }).status === 0;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!haveCompiler && root && fs.existsSync('/usr/bin/apt-get')) {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', 'gcc', 'libc6-dev'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return ensureImage('compiler-image.sh', tag);
}
