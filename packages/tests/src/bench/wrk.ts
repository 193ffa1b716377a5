import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pinned } from './processes';

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly latencyAvgMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

export interface WrkRun {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationSeconds: number;
  /** Lua source for wrk's -s option. */
  readonly script?: string;
  /** Cores for wrk, for `taskset -c`. */
  readonly cpus?: string;
}

/**
 * Finds wrk, installing it from Debian's packages when we are root on a Debian-like
 * system and BENCH_INSTALL is not 0; otherwise explains how to get it.
 */
export function ensureWrk(allowInstall: boolean): void {
  if (ensureTool('wrk', ['--version'], allowInstall)) return;
  throw new Error(
    'The benchmarks need wrk (an HTTP load generator). Install it with your package manager, ' +
      'e.g. `sudo apt-get install wrk` on Debian/Ubuntu or `brew install wrk` on macOS, then run `npm run bench` again.',
  );
}

/**
 * True when `command` runs; when it does not, installs the Debian package of the same
 * name with apt-get if we are root on a Debian-like system and installing is allowed.
 */
export function ensureTool(command: string, versionArgs: string[], allowInstall: boolean): boolean {
  if (runs(command, versionArgs)) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!allowInstall || !root || !fs.existsSync('/usr/bin/apt-get')) return false;
  process.stdout.write(`${command} not found: installing it with apt-get (set BENCH_INSTALL=0 to skip)\n`);
  if (!aptUpdated) execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  aptUpdated = true;
  execFileSync('apt-get', ['install', '-y', command], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return runs(command, versionArgs);
}

let aptUpdated = false;

/** True when the command can be started (wrk --version exits 1, so the status is not looked at). */
function runs(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).error === undefined;
}

export function runWrk(run: WrkRun): WrkResult {
  const args = ['-t', String(run.threads), '-c', String(run.connections), '-d', `${run.durationSeconds}s`, '--latency'];
  let scriptFile: string | undefined;
  if (run.script !== undefined) {
    scriptFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-bench-')), 'script.lua');
    fs.writeFileSync(scriptFile, run.script);
    args.push('-s', scriptFile);
  }
  args.push(run.url);
  const [command, fullArgs] = pinned(run.cpus, 'wrk', args);
  const out = execFileSync(command, fullArgs, { encoding: 'utf8', timeout: (run.durationSeconds + 30) * 1000 });
  if (scriptFile !== undefined) fs.rmSync(path.dirname(scriptFile), { recursive: true, force: true });
  return parseWrk(out);
}

/** Reads wrk's text report. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (rps === null) throw new Error(`cannot read wrk's output:\n${out}`);
  const avg = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requestsPerSecond: Number(rps[1]),
    latencyAvgMs: toMs(avg),
    latencyP50Ms: toMs(p50),
    latencyP99Ms: toMs(p99),
    errors: socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

function toMs(match: RegExpExecArray | null): number {
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}
