import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startServer, type ServerProcess } from '../../src/bench/processes';
import { NodeProcess } from '../../src/cluster/node-process';
import { isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
const BALANCER_ENTRY = path.join(path.dirname(require.resolve('@meshkv/load-balancer/package.json')), 'dist', 'main.js');
const ADMIN_TOKEN = 'metrics-admin-token';

/** promtool, from Debian's prometheus package; undefined when it is not here. */
function promtool(): string | undefined {
  return ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((file) => fs.existsSync(file));
}

/** `promtool check metrics` on a scrape: its complaints, one a line ('' when none). */
function lint(tool: string, text: string): string {
  try {
    return execFileSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim() || String(error);
  }
}

function statusOnFreshConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** The metric families a scrape names (histogram and counter suffixes folded to the family). */
function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] as string));
}

/** The value of one series of a scrape (`name{labels}` exactly as written), or undefined. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * /metrics of two real node processes (one on LMDB, keys required) and of a real balancer in
 * front of them: Prometheus' own linter (promtool check metrics) finds nothing to say, the
 * values follow what was done, and every metric the Grafana dashboard draws exists. The
 * Prometheus configuration of deploy/monitoring passes `promtool check config`. Where
 * promtool is missing the test says so and is skipped; CI installs it, and there it runs.
 */
describe('metrics: /metrics of real nodes and of the balancer, checked by promtool', function () {
  this.timeout(60_000);
  const ADMIN_KEY = 'metrics-scenario-admin-key-0123456789';
  const nodes: NodeProcess[] = [];
  let balancer: ServerProcess | undefined;
  let adminPort = 0;
  let folder = '';
  let tool: string | undefined;

  before(async function () {
    tool = promtool();
    if (tool === undefined) {
      if (process.env.CI === 'true') throw new Error('no promtool: CI must install Debian\'s prometheus package');
      process.stdout.write('      (skipped: no promtool here; apt-get install prometheus)\n');
      this.skip();
    }
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-metrics-'));
    nodes.push(await NodeProcess.start('metrics-1', { ...SCENARIO_ENV, ADMIN_KEY, STORAGE: 'lmdb', DATA_DIR: folder }));
    nodes.push(await NodeProcess.start('metrics-2', { ...SCENARIO_ENV, ADMIN_KEY, MESH_NETWORK_URL: (nodes[0] as NodeProcess).url }));
    await waitFor(() => isFullMesh(nodes), 10_000, 'a full mesh');
    const port = await freePort();
    adminPort = await freePort();
    balancer = await startServer('balancer', [process.execPath, [BALANCER_ENTRY]], port, {
      SERVICE_PORT: String(port),
      BIND_ADDRESS: '127.0.0.1',
      BACKENDS: nodes.map((node) => new URL(node.url).host).join(','),
      ADMIN_PORT: String(adminPort),
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
    });
  });

  after(async () => {
    await balancer?.stop();
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    if (folder !== '') fs.rmSync(folder, { recursive: true, force: true });
  });

  const scrape = async (url: string, token: string): Promise<{ status: number; type: string; text: string }> => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  it('a node: lint-clean, its request, record, storage and replication figures follow what was done', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    for (let i = 0; i < 20; i++) expect((await fetch(`${a.url}/set?k=m-${i}&v=${i}&w=all`, { headers: auth })).status).to.equal(200);
    expect((await fetch(`${a.url}/get?k=m-1`, { headers: auth })).status).to.equal(200);
    expect((await fetch(`${a.url}/get?k=none`, { headers: auth })).status).to.equal(404);
    expect((await fetch(`${a.url}/no-such-route`, { headers: auth })).status).to.equal(404);
    expect((await fetch(`${a.url}/metrics`)).status, 'no key').to.equal(401);

    const { status, type, text } = await scrape(`${a.url}/metrics`, ADMIN_KEY);
    expect(status).to.equal(200);
    expect(type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(lint(tool as string, text), 'promtool check metrics').to.equal('');
    expect(valueOf(text, 'meshkv_http_request_duration_seconds_count{route="/set",method="GET",status="200"}')).to.equal(20);
    expect(valueOf(text, 'meshkv_http_request_duration_seconds_count{route="/get",method="GET",status="404"}')).to.equal(1);
    expect(valueOf(text, 'meshkv_http_request_duration_seconds_count{route="none",method="GET",status="404"}')).to.equal(1);
    expect(valueOf(text, 'meshkv_records')).to.equal(20);
    expect(valueOf(text, 'meshkv_storage_commit_duration_seconds_count')).to.be.at.least(20);
    expect(valueOf(text, 'meshkv_storage_bytes')).to.be.greaterThan(0);
    expect(valueOf(text, 'meshkv_peers{state="alive"}')).to.equal(1);
    expect(valueOf(text, 'meshkv_replication_records_sent_total')).to.be.at.least(20);
    expect(valueOf(text, 'meshkv_ready')).to.equal(1);
    expect(text).to.include('nodejs_eventloop_lag_seconds').and.include('process_resident_memory_bytes');
    expect(text, 'no secret in the metrics').to.not.include(ADMIN_KEY).and.not.include(SCENARIO_ENV.MESH_SECRET);

    const other = await scrape(`${b.url}/metrics`, ADMIN_KEY);
    expect(lint(tool as string, other.text)).to.equal('');
    expect(valueOf(other.text, 'meshkv_records')).to.equal(20);
    expect(valueOf(other.text, 'meshkv_replication_records_received_total{outcome="applied"}')).to.be.at.least(20);
    expect(valueOf(other.text, 'meshkv_replication_lag_seconds_count')).to.be.at.least(1);
  });

  it('the balancer: lint-clean on its admin port with ADMIN_TOKEN, backends and connections counted', async () => {
    const admin = `http://127.0.0.1:${adminPort}/metrics`;
    expect((await fetch(admin)).status, 'no token').to.equal(401);
    const through = `http://127.0.0.1:${(balancer as ServerProcess).port}`;
    // A connection each (fetch would keep one alive for all four).
    for (let i = 0; i < 4; i++) expect(await statusOnFreshConnection(`${through}/healthcheck`)).to.equal(200);
    await waitFor(async () => valueOf((await scrape(admin, ADMIN_TOKEN)).text, 'meshkv_balancer_backends{state="up"}') === 2, 10_000, 'both backends up');
    const { status, text } = await scrape(admin, ADMIN_TOKEN);
    expect(status).to.equal(200);
    expect(lint(tool as string, text), 'promtool check metrics').to.equal('');
    expect(valueOf(text, 'meshkv_balancer_connections_total')).to.be.at.least(4);
    expect(valueOf(text, 'meshkv_balancer_discovery_connected')).to.equal(1);
  });

  it('every metric the Grafana dashboard draws exists, and the Prometheus configuration passes promtool check config', async () => {
    const node = (await scrape(`${(nodes[0] as NodeProcess).url}/metrics`, ADMIN_KEY)).text;
    const balancerText = (await scrape(`http://127.0.0.1:${adminPort}/metrics`, ADMIN_TOKEN)).text;
    const known = new Set([...families(node), ...families(balancerText)]);
    const dashboard = fs.readFileSync(path.join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8');
    const drawn = new Set([...dashboard.matchAll(/\b((?:meshkv|nodejs|process)_[a-z0-9_]+)/g)].map((match) => (match[1] as string).replace(/_(bucket|count|sum)$/, '')));
    expect(drawn.size).to.be.greaterThan(15);
    expect([...drawn].filter((name) => !known.has(name)), 'drawn but not served').to.deep.equal([]);
    const config = path.join(ROOT, 'deploy', 'monitoring', 'prometheus.yml');
    execFileSync(tool as string, ['check', 'config', config], { stdio: 'pipe' });
  });
});
