import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../listen';
import { waitFor } from '../wait-for';
import { Resolver } from 'node:dns/promises';

/**
 * Test support (`@meshkv/common/testing`), for the tests of every package: a real DNS
 * server (Debian's dnsmasq) on 127.0.0.1, answering from records the test sets.
 */
export interface DnsServer {
  readonly address: string;
  /** Replaces every A record (`[address, name]` pairs) and waits until the server answers with them (and no longer answers `gone`). */
  setHosts(records: readonly (readonly [string, string])[], gone?: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

/** True when dnsmasq is installed; under CI=true its absence is an error (CI installs it). */
export function hasDnsmasq(): boolean {
  const found = spawnSync('dnsmasq', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('dnsmasq is missing: CI must install it (apt-get install dnsmasq-base)');
  return found;
}

/**
 * Starts dnsmasq on a free port of 127.0.0.1 serving the A records of a hosts file the
 * test rewrites (SIGHUP makes it read the file again), and SRV records given at start;
 * it answers nothing else (no upstream, no /etc/hosts; a name under .test without a
 * record is NXDOMAIN).
 */
export async function startDnsServer(srv: readonly { readonly name: string; readonly target: string; readonly port: number }[] = []): Promise<DnsServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-dns-'));
  fs.chmodSync(dir, 0o755);
  const hosts = path.join(dir, 'hosts');
  fs.writeFileSync(hosts, '', { mode: 0o644 });
  const port = await freePort();
  const args = ['--keep-in-foreground', '--conf-file=/dev/null', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--no-poll', `--addn-hosts=${hosts}`, '--pid-file=', '--local-ttl=0', '--local=/test/'];
  for (const record of srv) args.push(`--srv-host=${record.name},${record.target},${record.port}`);
  const child: ChildProcess = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const answers = async (name: string): Promise<string[]> => (await resolver.resolve4(name).catch(() => [] as string[])).sort();
  // Up once it answers a name it has no record of (NXDOMAIN is an answer).
  try {
    await waitFor(async () => child.exitCode === null && (await resolver.resolve4('up.test').then(() => true, (error: NodeJS.ErrnoException) => error.code === 'ENOTFOUND')), 5000, `dnsmasq on 127.0.0.1:${port} (${errors.trim()})`);
  } catch (error) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    address: `127.0.0.1:${port}`,
    async setHosts(records, gone = []) {
      fs.writeFileSync(hosts, records.map(([address, name]) => `${address} ${name}\n`).join(''));
      child.kill('SIGHUP');
      const names = [...new Set(records.map(([, name]) => name))];
      await waitFor(async () => {
        for (const name of names) {
          const want = records.filter(([, n]) => n === name).map(([address]) => address).sort();
          if ((await answers(name)).join() !== want.join()) return false;
        }
        for (const name of gone) if ((await answers(name)).length > 0) return false;
        return true;
      }, 5000, 'dnsmasq to answer the new records');
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
