import * as os from 'node:os';
import * as fs from 'node:fs';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';
import { MeshKvClient } from '@meshkv/client';
import { freePort, waitFor } from '@meshkv/common';
import { run } from '../../src/index';

const NODE_ENTRY = path.join(path.dirname(require.resolve('@meshkv/database/package.json')), 'dist', 'main.js');
const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'meshkv.js');

/** What one run of the command printed, and its exit code. */
interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** The command in this process, with its own environment. */
async function meshkv(env: Record<string, string>, ...argv: string[]): Promise<Outcome> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (text: string) => (out += text) }, stderr: { write: (text: string) => (err += text) }, env });
  return { code, out, err };
}

/** The installed binary, as a script runs it. */
function binary(env: Record<string, string>, ...argv: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out: stdout, err: stderr });
    });
  });
}

describe('meshkv, the command, against two real node processes', function () {
  this.timeout(30_000);
  const nodes: ChildProcess[] = [];
  const urls: string[] = [];
  let env: Record<string, string>;

  before(async () => {
    const ports = [await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const child = spawn(process.execPath, [NODE_ENTRY], {
        env: {
          PATH: process.env.PATH ?? '',
          PORT: String(port),
          BIND_ADDRESS: '127.0.0.1',
          ADVERTISE_URL: `http://127.0.0.1:${port}`,
          LOG_LEVEL: 'warn',
          PING_INTERVAL_MS: '100',
          ...(i === 0 ? {} : { MESH_NETWORK_URL: `http://127.0.0.1:${ports[0]}` }),
        },
        stdio: 'ignore',
      });
      nodes.push(child);
      urls.push(`http://127.0.0.1:${port}`);
    }
    const client = new MeshKvClient({ url: urls[0] as string, timeoutMs: 1000 });
    try {
      await waitFor(async () => (await client.status().catch(() => undefined))?.peers.some((peer) => peer.state === 'alive') === true, 15_000, 'the two nodes to see each other');
    } finally {
      await client.close();
    }
    env = { MESHKV_URL: urls[0] as string };
  });

  after(async () => {
    await Promise.all(
      nodes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  });

  it('set, get, is, ttl and rm, with the exit codes scripts test', async () => {
    expect(await meshkv(env, 'set', 'cli/a', 'one value', '--w', 'all')).to.deep.equal({ code: 0, out: 'OK\n', err: '' });
    expect(await meshkv(env, 'get', 'cli/a')).to.include({ code: 0, out: 'one value\n' });
    expect(await meshkv({ MESHKV_URL: urls[1] as string }, 'get', 'cli/a'), 'written with --w all: on the other node too').to.include({ code: 0, out: 'one value\n' });
    expect(await meshkv(env, 'is', 'cli/a')).to.include({ code: 0, out: 'true\n' });
    expect(await meshkv(env, 'ttl', 'cli/a')).to.include({ code: 0, out: 'none\n' });
    expect(await meshkv(env, 'set', 'cli/t', 'v', '--ttl', '10m')).to.include({ code: 0 });
    expect(Number((await meshkv(env, 'ttl', 'cli/t')).out)).to.be.within(590_000, 600_000);
    expect(await meshkv(env, 'rm', 'cli/a')).to.include({ code: 0, out: 'OK\n' });
    const missing = await meshkv(env, 'get', 'cli/a');
    expect(missing.code, 'not found').to.equal(1);
    expect(missing.err).to.include('no key "cli/a"');
    expect((await meshkv(env, 'is', 'cli/a')).code).to.equal(1);
    expect((await meshkv(env, 'rm', 'cli/a')).code).to.equal(1);
    expect((await meshkv(env, 'ttl', 'cli/a')).code).to.equal(1);
  });

  it('keys and scan, pages followed to the end; --json gives one JSON document per line', async () => {
    for (let i = 0; i < 7; i++) expect((await meshkv(env, 'set', `page/${i}`, `v${i}`)).code).to.equal(0);
    expect((await meshkv(env, 'keys', 'page/')).out.trim().split('\n')).to.have.members(['page/0', 'page/1', 'page/2', 'page/3', 'page/4', 'page/5', 'page/6']);
    expect(JSON.parse((await meshkv(env, '--json', 'keys', 'page/')).out)).to.have.length(7);
    const scan = await meshkv(env, 'scan', '--prefix', 'page/', '--limit', '3');
    expect(scan.out.trim().split('\n'), 'three pages of at most 3').to.deep.equal(Array.from({ length: 7 }, (_, i) => `page/${i}\tv${i}`));
    const lines = (await meshkv(env, '--json', 'scan', '--prefix', 'page/', '--limit', '2', '--keys-only')).out.trim().split('\n');
    expect(lines.map((line) => JSON.parse(line) as string)).to.deep.equal(Array.from({ length: 7 }, (_, i) => `page/${i}`));
    expect(JSON.parse((await meshkv(env, '--json', 'get', 'page/3')).out)).to.deep.equal({ k: 'page/3', v: 'v3' });
  });

  it('status and cluster: the node, then every peer with its records, outbox, lag and readiness', async () => {
    const status = JSON.parse((await meshkv(env, '--json', 'status')).out) as { nodeId: string; peers: unknown[] };
    expect(status.peers).to.have.length(1);
    expect((await meshkv(env, 'status')).out).to.match(/^node +[0-9a-f]+ \(http:\/\/127\.0\.0\.1:\d+\)/);
    const rows = JSON.parse((await meshkv(env, '--json', 'cluster')).out) as { nodeId: string; url: string; state: string; records: number; ready: boolean }[];
    expect(rows.map((row) => [row.url, row.state, row.ready])).to.deep.equal([
      [urls[0], 'self', true],
      [urls[1], 'alive', true],
    ]);
    expect(rows[0]?.nodeId).to.equal(status.nodeId);
    const text = (await meshkv(env, 'cluster')).out.trim().split('\n');
    expect(text[0]).to.match(/^ID +URL +STATE +RECORDS +OUTBOX +LAG_MS +READY$/);
    expect(text).to.have.length(3);
  });

  it('watch prints each change as it comes (on the other node too), subscribe each message; publish the subscribers reached', async () => {
    const other = { MESHKV_URL: urls[1] as string };
    let done = false;
    const watching = meshkv(other, 'watch', '--prefix', 'watched/', '--count', '3').finally(() => (done = true));
    const jsonWatch = meshkv(env, '--json', 'watch', '--key', 'watched/x', '--count', '1', '--ws');
    const subscribing = meshkv(other, 'subscribe', 'cli-topic', '--count', '1');
    // The streams open while this writes: it writes until they have what they wait for.
    let n = 0;
    await waitFor(async () => {
      await meshkv(env, 'set', `watched/${n++ === 0 ? 'x' : n}`, 'v');
      await meshkv(env, 'publish', 'cli-topic', 'hello');
      return done;
    }, 15_000, 'the watch to print three changes');
    const printed = (await watching).out.trim().split('\n');
    expect(printed).to.have.length(3);
    for (const line of printed) expect(line).to.match(/^set\twatched\/\S+\tv$/);
    const [event] = (await jsonWatch).out.trim().split('\n').map((line) => JSON.parse(line) as { type: string; k: string; id: string });
    expect(event).to.include({ type: 'set', k: 'watched/x' });
    expect(event?.id).to.be.a('string');
    expect(await subscribing).to.deep.equal({ code: 0, out: 'hello\n', err: '' });
    expect(JSON.parse((await meshkv(env, '--json', 'publish', 'nobody-listens', 'x')).out)).to.deep.equal({ success: true, subscribers: 0 });
    const expired = await meshkv(env, 'watch', '--after', 'zzzzzz.0-1');
    expect(expired.code, 'an id no node gave').to.equal(2);
    expect(expired.err).to.include('CURSOR_EXPIRED');
  });

  it('usage errors exit 2, a server refusal of bad input 2, a closed port 3; --help exits 0', async () => {
    expect((await meshkv(env, 'get')).code, 'a missing argument').to.equal(2);
    expect((await meshkv(env, 'frobnicate')).code, 'an unknown command').to.equal(2);
    const limit = await meshkv(env, 'scan', '--limit', 'zero');
    expect(limit.code).to.equal(2);
    expect(limit.err).to.include("'--limit <n>' argument 'zero' is invalid");
    expect((await meshkv(env, 'set', 'k', 'v', '--w', 'most')).code).to.equal(2);
    const refused = await meshkv(env, 'set', 'k'.repeat(65), 'v');
    expect(refused.code, 'a key over MAX_KEY_LENGTH').to.equal(2);
    expect(refused.err).to.include('MAXIMUM_KEY_LENGTH_REACHED');
    const closed = await meshkv({ MESHKV_URL: 'http://127.0.0.1:1' }, '--timeout', '2000', 'get', 'k');
    expect(closed.code).to.equal(3);
    expect(closed.err).to.include('ECONNREFUSED');
    const noCa = await meshkv(env, '--ca', '/nonexistent/ca.pem', 'get', 'k');
    expect(noCa.code, 'a CA file that cannot be read').to.equal(2);
    expect(noCa.err).to.include('--ca (MESHKV_CA_FILE) names a file that cannot be read');
    const help = await meshkv(env, '--help');
    expect(help.code).to.equal(0);
    expect(help.out).to.include('cluster');
    expect((await meshkv(env, 'completion')).out).to.match(/^complete .* meshkv\n$/);
  });

  it('stress runs the stress tool against --url and passes on its report and exit code', async () => {
    const report = path.join(os.tmpdir(), `meshkv-cli-stress-${process.pid}.json`);
    try {
      const run = await meshkv(env, 'stress', '--amount', '300', '--workers', '4', '--mix', 'get:2,set:1,metrics:1,ui:1', '--report', report);
      expect(run.code, run.err).to.equal(0);
      expect(run.out).to.include(urls[0]);
      const written = JSON.parse(fs.readFileSync(report, 'utf8')) as { target: string; requests: number };
      expect(written.target).to.equal(urls[0]);
      const bad = await meshkv(env, 'stress', '--mix', 'brew:1');
      expect(bad.code, 'the tool refuses an unknown operation').to.equal(2);
      expect(bad.err + bad.out).to.include('unknown operation "brew"');
    } finally {
      fs.rmSync(report, { force: true });
    }
  });

  it('the installed binary: exit codes and --json output a script can parse', async () => {
    expect(await binary(env, 'set', 'bin/k', 'v')).to.include({ code: 0, out: 'OK\n' });
    expect(JSON.parse((await binary(env, '--json', 'get', 'bin/k')).out)).to.deep.equal({ k: 'bin/k', v: 'v' });
    const missing = await binary(env, '--json', 'get', 'bin/none');
    expect(missing.code).to.equal(1);
    expect(JSON.parse(missing.err)).to.include({ error: 'NOT_FOUND' });
    expect((await binary({ MESHKV_URL: 'http://127.0.0.1:1' }, 'keys')).code).to.equal(3);
    expect((await binary(env, 'set')).code).to.equal(2);
  });
});
