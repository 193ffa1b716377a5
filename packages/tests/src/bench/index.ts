import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canPin, cpuSeconds, freePort, pinned, rssBytes, startServer, type ServerProcess } from './processes';
import { antiEntropy, type AntiEntropyResult, type LagResult, type LagRounds, replicationLag, startMesh } from './mesh';
import { median } from './stats';
import { Agent, Pool, request } from 'undici';
import { makeCertificates } from '../certs';
import { startBalancerProcess, startHaproxy, startPipeProxy } from './balancer';
import { ensureTool, ensureWrk, runWrk, type WrkResult } from './wrk';
import { eventLatency, eventsBetween, startWatchers } from './watch';
import { DATABASE_ARGS, DATABASE_ENTRY } from '../cluster/node-process';

/**
 * `npm run bench`: every MeshKV figure is measured in the same run as its reference and
 * reported as a ratio. Method: the server under test and its reference run one at a
 * time; after a warm-up of each, they alternate for BENCH_ROUNDS rounds, and the ratio
 * reported is the median of the per-round ratios, which cancels most of the drift of a
 * shared machine. With two or more cores the server is pinned to core 0 and wrk to core
 * 1 (taskset), so the load generator does not steal the server's CPU.
 * Speeds are reported, never asserted: this script does not fail on a slow figure.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BARE_ENTRY = path.join(__dirname, 'bare-server.js');

const settings = {
  rounds: intEnv('BENCH_ROUNDS', 9),
  seconds: intEnv('BENCH_SECONDS', 3),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 3),
  connections: intEnv('BENCH_CONNECTIONS', 50),
  memoryKeys: intEnv('BENCH_MEMORY_KEYS', 1_000_000),
  mesh: process.env.BENCH_MESH !== '0',
  balancer: process.env.BENCH_BALANCER !== '0',
  single: process.env.BENCH_SINGLE !== '0',
  stress: process.env.BENCH_STRESS !== '0',
  durability: process.env.BENCH_DURABILITY !== '0',
  watch: process.env.BENCH_WATCH !== '0',
  watchers: intEnv('BENCH_WATCHERS', 1000),
  aeKeys: intEnv('BENCH_AE_KEYS', 100_000),
  output: process.env.BENCH_OUTPUT ?? path.join(ROOT, 'docs', 'benchmarks.md'),
  install: process.env.BENCH_INSTALL !== '0',
};

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number (got "${raw}")`);
  return Number(raw);
}

const pin = canPin() && os.cpus().length >= 2;
const SERVER_CPU = pin ? '0' : undefined;
const WRK_CPU = pin ? '1' : undefined;

interface PairResult {
  readonly name: string;
  readonly goal: number;
  readonly reference: WrkResult[];
  readonly subject: WrkResult[];
  readonly ratios: number[];
  /** CPU microseconds the process spent per request, per round (when its pid is known). */
  readonly referenceCpuUs: number[];
  readonly subjectCpuUs: number[];
}

const SET_SCRIPT = `
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/set?k=bench-" .. (i % 10000) .. "&v=value-" .. i .. "-abcdefghijklmnopqrstuvwxyz")
end
`;

async function startDatabase(env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  return startServer('meshkv node', pinned(SERVER_CPU, process.execPath, [...DATABASE_ARGS]), port, {
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

async function startBare(body: string, cpus = SERVER_CPU): Promise<ServerProcess> {
  const port = await freePort();
  return startServer('bare node:http', pinned(cpus, process.execPath, [BARE_ENTRY, String(port), body]), port);
}

/** What wrk needs of a server. */
interface Target {
  readonly name: string;
  readonly port: number;
  readonly pid?: number;
  /** https for a node serving TLS (wrk does not verify the certificate). */
  readonly scheme?: 'http' | 'https';
  /** Started before each load of this target and stopped after it (a scraper of /metrics). */
  readonly whileLoaded?: () => () => void;
}

/** A wrk run, and the CPU microseconds the server spent per request during it. */
function measured(server: Target, target: string, seconds: number, script?: string, wrkCpus = WRK_CPU): { result: WrkResult; cpuUs: number } {
  const before = server.pid === undefined ? 0 : cpuSeconds(server.pid);
  const stop = server.whileLoaded?.();
  const result = load(server, target, seconds, script, wrkCpus);
  stop?.();
  const used = server.pid === undefined ? Number.NaN : cpuSeconds(server.pid) - before;
  return { result, cpuUs: (used * 1e6) / Math.max(1, result.requestsPerSecond * seconds) };
}

function load(server: Target, pathAndQuery: string, seconds: number, script?: string, wrkCpus = WRK_CPU): WrkResult {
  const result = runWrk({
    url: `${server.scheme ?? 'http'}://127.0.0.1:${server.port}${pathAndQuery}`,
    connections: settings.connections,
    threads: 1,
    durationSeconds: seconds,
    cpus: wrkCpus,
    ...(script === undefined ? {} : { script }),
  });
  if (result.errors > 0 || result.non2xx > 0) {
    process.stdout.write(`  note: ${server.name} had ${result.errors} socket errors and ${result.non2xx} non-2xx answers\n`);
  }
  return result;
}

/** What wrk asks for: one path for both sides, or one per side. */
type Targets = string | { readonly reference: string; readonly subject: string };

/** Alternates reference and subject for the configured rounds after a warm-up. */
function pair(name: string, goal: number, reference: Target, subject: Target, targets: Targets, script?: string, rounds = settings.rounds): PairResult {
  const referenceTarget = typeof targets === 'string' ? targets : targets.reference;
  const target = typeof targets === 'string' ? targets : targets.subject;
  process.stdout.write(`${name}: warming up\n`);
  load(reference, referenceTarget, settings.warmupSeconds, script);
  load(subject, target, settings.warmupSeconds, script);
  const result: PairResult = { name, goal, reference: [], subject: [], ratios: [], referenceCpuUs: [], subjectCpuUs: [] };
  for (let round = 1; round <= rounds; round++) {
    const { result: ref, cpuUs: refCpu } = measured(reference, referenceTarget, settings.seconds, script);
    const { result: sub, cpuUs: subCpu } = measured(subject, target, settings.seconds, script);
    result.reference.push(ref);
    result.subject.push(sub);
    result.referenceCpuUs.push(refCpu);
    result.subjectCpuUs.push(subCpu);
    result.ratios.push(sub.requestsPerSecond / ref.requestsPerSecond);
    process.stdout.write(
      `  round ${round}: reference ${ref.requestsPerSecond.toFixed(0)} req/s, MeshKV ${sub.requestsPerSecond.toFixed(0)} req/s, ratio ${(sub.requestsPerSecond / ref.requestsPerSecond).toFixed(3)}\n`,
    );
  }
  return result;
}

const MISS_SCENARIO = 'GET /get of a missing key (404), reference: /get of an existing key on the same node';

const VALUE = 'bench-value-0123456789';

async function singleNode(): Promise<PairResult[]> {
  const node = await overProcessSets(nodePairs);
  // Fresh nodes for the reference too: a plain node and one with keys (or TLS, or scraped),
  // each holding one key.
  const security = await overProcessSets(async (rounds) => {
    const plain = await startDatabase();
    try {
      await seed(plain.port);
      return await securityPairs(plain, VALUE, rounds);
    } finally {
      await plain.stop();
    }
  });
  return [...node, ...security];
}

/** /get, its miss and /set on a fresh node, against fresh bare node:http servers. */
async function nodePairs(rounds: number): Promise<PairResult[]> {
  const results: PairResult[] = [];
  const bareGet = await startBare(JSON.stringify(VALUE));
  const node = await startDatabase();
  try {
    await seed(node.port);
    results.push(pair('GET /get of an existing key', 0.9, bareGet, node, '/get?k=bench-key', undefined, rounds));
    // A miss is an expected outcome, answered as fast as a hit: the reference is the hit.
    results.push(pair(MISS_SCENARIO, 0.95, node, node, { reference: '/get?k=bench-key', subject: '/get?k=no-such-key' }, undefined, rounds));
  } finally {
    await bareGet.stop();
  }
  const bareSet = await startBare('{"success":true}');
  try {
    results.push(pair('GET /set over 10,000 keys', 0.8, bareSet, node, '/', SET_SCRIPT, rounds));
  } finally {
    await bareSet.stop();
    await node.stop();
  }
  return results;
}

/** Stores `bench-key` on a node. */
async function seed(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/set?k=bench-key&v=${VALUE}`);
  if (res.status !== 200) throw new Error(`cannot seed the node: ${res.status}`);
}

/** Sets of fresh processes every pairing of processes is measured on (see overProcessSets). */
const PROCESS_SETS = 9;

/**
 * A fresh node process is fast or slow for its whole life, by chance (measured in
 * docs/benchmarks.md, Where the time goes): `measure`, which starts processes of its own, runs PROCESS_SETS
 * times with a share of the rounds each, and each row gets the rounds of every set, so
 * one process does not decide a figure.
 */
async function overProcessSets(measure: (rounds: number) => Promise<PairResult[]>): Promise<PairResult[]> {
  const sets = Math.max(1, Math.min(PROCESS_SETS, settings.rounds));
  const rounds = Math.max(1, Math.round(settings.rounds / sets));
  const merged = new Map<string, PairResult>();
  for (let set = 1; set <= sets; set++) {
    process.stdout.write(`process set ${set} of ${sets}\n`);
    for (const result of await measure(rounds)) merge(merged, result);
  }
  return [...merged.values()];
}

/** Adds the rounds of `result` to those of the same scenario in `into`. */
function merge(into: Map<string, PairResult>, result: PairResult): void {
  const known = into.get(result.name);
  if (known === undefined) {
    into.set(result.name, result);
    return;
  }
  known.reference.push(...result.reference);
  known.subject.push(...result.subject);
  known.ratios.push(...result.ratios);
  known.referenceCpuUs.push(...result.referenceCpuUs);
  known.subjectCpuUs.push(...result.subjectCpuUs);
}

/** Sets every request's Authorization header (wrk's Lua). */
const bearerScript = (key: string): string => `wrk.headers["Authorization"] = "Bearer ${key}"\n`;

/**
 * What API keys and TLS cost on /get, each against `plain` (a node without either, holding
 * `bench-key`) in the same run: a node with ADMIN_KEY answering a key of its ring (both sides
 * get the same header, so the bytes are the same), and a node serving HTTPS over keep-alive
 * connections (the handshake is paid once per connection; recorded, no goal).
 */
async function securityPairs(plain: ServerProcess, value: string, rounds: number): Promise<PairResult[]> {
  const results: PairResult[] = [];
  const admin = 'bench-admin-key-0123456789abcdef';
  const keyed = await startDatabase({ ADMIN_KEY: admin });
  try {
    const headers = { authorization: `Bearer ${admin}` };
    const made = (await (await fetch(`http://127.0.0.1:${keyed.port}/admin/keys/create?name=bench&scopes=read,write`, { headers })).json()) as { key: string };
    const seeded = await fetch(`http://127.0.0.1:${keyed.port}/set?k=bench-key&v=${value}`, { headers: { authorization: `Bearer ${made.key}` } });
    if (seeded.status !== 200) throw new Error(`cannot seed the node with keys: ${seeded.status}`);
    results.push(pair(KEY_SCENARIO, 0.9, plain, keyed, '/get?k=bench-key', bearerScript(made.key), rounds));
  } finally {
    await keyed.stop();
  }
  results.push(await scrapePair(plain, rounds));
  const certs = makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-bench-tls-')));
  const tls = await startDatabase({ TLS_CERT_FILE: certs.nodeCert, TLS_KEY_FILE: certs.nodeKey });
  try {
    const secure: Target = { name: tls.name, port: tls.port, pid: tls.pid, scheme: 'https' };
    const agent = new Agent({ connect: { ca: fs.readFileSync(certs.ca) } });
    const seeded = await request(`https://127.0.0.1:${tls.port}/set?k=bench-key&v=${value}`, { dispatcher: agent });
    await seeded.body.text();
    await agent.close();
    if (seeded.statusCode !== 200) throw new Error(`cannot seed the TLS node: ${seeded.statusCode}`);
    results.push(pair(TLS_SCENARIO, 0, plain, secure, '/get?k=bench-key', undefined, rounds));
  } finally {
    await tls.stop();
    fs.rmSync(certs.dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * What a Prometheus scrape every second costs /get: a fresh node holding `bench-key` whose
 * /metrics is fetched every second while wrk loads it, against `plain` (not scraped) in the
 * same run. The scraper runs only during the node's own rounds, never the reference's.
 */
async function scrapePair(plain: ServerProcess, rounds: number): Promise<PairResult> {
  const scraped = await startDatabase();
  try {
    const seeded = await fetch(`http://127.0.0.1:${scraped.port}/set?k=bench-key&v=bench-value-0123456789`);
    if (seeded.status !== 200) throw new Error(`cannot seed the scraped node: ${seeded.status}`);
    const whileLoaded = (): (() => void) => startScraper(`http://127.0.0.1:${scraped.port}/metrics`, 1000);
    return pair(SCRAPE_SCENARIO, 0.95, plain, { name: scraped.name, port: scraped.port, pid: scraped.pid, whileLoaded }, '/get?k=bench-key', undefined, rounds);
  } finally {
    await scraped.stop();
  }
}

/**
 * Fetches `url` every `intervalMs` from a process of its own (the bench's own process is
 * blocked while wrk runs); the function returned stops it.
 */
function startScraper(url: string, intervalMs: number): () => void {
  const script = `const [url, ms] = process.argv.slice(1); const scrape = () => fetch(url).then((r) => r.text()).catch(() => undefined); scrape(); setInterval(scrape, Number(ms));`;
  const child = spawn(process.execPath, ['-e', script, url, String(intervalMs)], { stdio: 'ignore' });
  return () => child.kill('SIGKILL');
}

const SCRAPE_SCENARIO = 'GET /get while /metrics is scraped every second, reference: the same /get on a node not scraped';

const KEY_SCENARIO = 'GET /get with an API key (ADMIN_KEY set, a key of the ring as Bearer), reference: the same /get on a node without keys';
const TLS_SCENARIO = 'GET /get over HTTPS (TLS_CERT_FILE, keep-alive), reference: the same /get over HTTP';

interface DurabilityResult {
  /** /set of an lmdb node in each DURABILITY mode, against a memory node. */
  readonly pairs: PairResult[];
  readonly restart?: { keys: number; loadSeconds: number; rssLoaded: number; clean: Restart; crash: Restart };
}

/** Goals of lmdb /set against memory, by DURABILITY mode. */
const DURABILITY_GOALS: Record<string, number> = { sync: 0.8, batch: 0.9 };

/** A restart of a node holding many keys: from spawn to listening, and its storage opening. */
interface Restart {
  readonly restartMs: number;
  readonly openMs: number;
  readonly digests: string;
  readonly records: number;
  readonly rss: number;
}

/**
 * /set throughput of STORAGE=lmdb in each DURABILITY mode as a ratio of STORAGE=memory
 * (every round), then a node holding `keys` keys on disk: its RSS, and the time from
 * process start to listening after a clean stop (digests saved) and after a SIGKILL
 * (every record's version read again).
 */
async function durabilityBenchmarks(keys: number): Promise<DurabilityResult> {
  const folders: string[] = [];
  const folder = (): string => {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-bench-lmdb-'));
    folders.push(made);
    return made;
  };
  try {
    const pairs = await overProcessSets(async (rounds) => {
      const modes: PairResult[] = [];
      const memoryNode = await startDatabase({ STORAGE: 'memory' });
      try {
        for (const mode of ['sync', 'batch', 'none']) {
          const disk = await startDatabase({ STORAGE: 'lmdb', DATA_DIR: folder(), DURABILITY: mode });
          try {
            modes.push(pair(`GET /set over 10,000 keys, DURABILITY=${mode}`, DURABILITY_GOALS[mode] ?? 0, memoryNode, disk, '/', SET_SCRIPT, rounds));
          } finally {
            await disk.stop();
          }
        }
      } finally {
        await memoryNode.stop();
      }
      return modes;
    });
    if (keys === 0) return { pairs };
    const directory = folder();
    const env = { STORAGE: 'lmdb', DATA_DIR: directory, DURABILITY: 'sync' };
    let node = await startDatabase(env);
    process.stdout.write(`durability: loading ${keys} keys into an lmdb node (sync)\n`);
    const started = Date.now();
    await loadKeys(node.port, keys, 64);
    const loadSeconds = (Date.now() - started) / 1000;
    const rssLoaded = rssBytes(node.pid);
    const restart = async (how: 'clean' | 'crash'): Promise<Restart> => {
      if (how === 'crash') process.kill(node.pid, 'SIGKILL');
      await node.stop();
      const restarting = Date.now();
      node = await startDatabase(env);
      const restartMs = Date.now() - restarting;
      const status = (await (await fetch(`http://127.0.0.1:${node.port}/status`)).json()) as {
        storageOpen: { records: number; ms: number; digests: string };
      };
      const { records, ms, digests } = status.storageOpen;
      process.stdout.write(`  restart after a ${how} stop: listening after ${restartMs} ms (open ${ms} ms, digests ${digests}), ${records} records\n`);
      return { restartMs, openMs: ms, digests, records, rss: rssBytes(node.pid) };
    };
    try {
      const clean = await restart('clean');
      const crash = await restart('crash');
      return { pairs, restart: { keys, loadSeconds, rssLoaded, clean, crash } };
    } finally {
      await node.stop();
    }
  } finally {
    for (const made of folders) fs.rmSync(made, { recursive: true, force: true });
  }
}

interface MemoryResult {
  readonly keys: number;
  readonly stored: number;
  readonly rssEmpty: number;
  readonly rssLoaded: number;
  readonly seconds: number;
  /** One connection: /scan of 100 keys after a random key, and /get of a random key (the HTTP round trip alone). */
  readonly scan: WrkResult;
  readonly get: WrkResult;
}

/** wrk's script for `target` with `%016d` filled by a random key number below `keys`. */
function randomKeyScript(target: string, keys: number): string {
  return `request = function()\n  return wrk.format("GET", string.format("${target}", math.random(0, ${Math.max(0, keys - 1)})))\nend\n`;
}

/** Loads N keys of 16 characters with 100-character values through the API; reads RSS. */
async function memory(keys: number): Promise<MemoryResult> {
  const node = await startDatabase();
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssEmpty = rssBytes(node.pid);
    process.stdout.write(`memory: loading ${keys} keys through /set\n`);
    const started = Date.now();
    await loadKeys(node.port, keys, 64);
    const seconds = (Date.now() - started) / 1000;
    let stored = 0;
    for (let i = 0; i < 50; i++) {
      const status = (await (await fetch(`http://127.0.0.1:${node.port}/status`)).json()) as { availableRecords: number };
      stored = status.availableRecords;
      if (stored >= keys) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const rssLoaded = rssBytes(node.pid);
    process.stdout.write(`  ${stored} keys stored in ${seconds.toFixed(1)} s; RSS ${(rssLoaded / 1e6).toFixed(1)} MB\n`);
    // Read after RSS, so the scans' garbage is not in the memory figure.
    const url = `http://127.0.0.1:${node.port}`;
    const one = (script: string): WrkResult => runWrk({ url, connections: 1, threads: 1, durationSeconds: 3, script, ...(WRK_CPU === undefined ? {} : { cpus: WRK_CPU }) });
    const scan = one(randomKeyScript('/scan?limit=100&after=%016d', keys));
    const get = one(randomKeyScript('/get?k=%016d', keys));
    process.stdout.write(`  /scan of 100 keys: p50 ${scan.latencyP50Ms} ms, p99 ${scan.latencyP99Ms} ms; /get p50 ${get.latencyP50Ms} ms\n`);
    return { keys, stored, rssEmpty, rssLoaded, seconds, scan, get };
  } finally {
    await node.stop();
  }
}

interface StressPair {
  readonly wrk: WrkResult[];
  readonly stress: { requestsPerSecond: number; p50: number; p99: number }[];
  readonly ratios: number[];
}

const STRESS_ENTRY = path.join(__dirname, '..', 'stress', 'index.js');

/**
 * The stress tool against wrk on one node: same target (/get of one key), same number of
 * connections, same core; rounds alternate. Shows the tool measures the server, not itself.
 */
async function stressVsWrk(): Promise<StressPair> {
  const node = await startDatabase();
  const result: StressPair = { wrk: [], stress: [], ratios: [] };
  try {
    await fetch(`http://127.0.0.1:${node.port}/set?k=stress-0&v=bench-value`);
    const file = path.join(os.tmpdir(), `meshkv-bench-stress-${process.pid}.json`);
    const runStress = (): { requestsPerSecond: number; p50: number; p99: number } => {
      const [command, args] = pinned(WRK_CPU, process.execPath, [STRESS_ENTRY, '--json', file]);
      execFileSync(command, args, {
        env: {
          ...process.env,
          SERVICE_URL: `http://127.0.0.1:${node.port}`,
          STRESS_DURATION: String(settings.seconds),
          STRESS_MIX: 'get:1',
          STRESS_KEYS: '1',
          STRESS_WORKERS: String(settings.connections),
          STRESS_CLUSTERS: '1',
        },
        stdio: 'ignore',
      });
      const report = JSON.parse(fs.readFileSync(file, 'utf8')) as { throughput: number; latencyMs: { p50: number; p99: number } };
      fs.rmSync(file, { force: true });
      return { requestsPerSecond: report.throughput, p50: report.latencyMs.p50, p99: report.latencyMs.p99 };
    };
    process.stdout.write('stress tool vs wrk: warming up\n');
    load(node, '/get?k=stress-0', settings.warmupSeconds);
    runStress();
    for (let round = 1; round <= settings.rounds; round++) {
      const w = load(node, '/get?k=stress-0', settings.seconds);
      const st = runStress();
      result.wrk.push(w);
      result.stress.push(st);
      result.ratios.push(st.requestsPerSecond / w.requestsPerSecond);
      process.stdout.write(`  round ${round}: wrk ${w.requestsPerSecond.toFixed(0)} req/s, stress ${st.requestsPerSecond.toFixed(0)} req/s, ratio ${(st.requestsPerSecond / w.requestsPerSecond).toFixed(3)}\n`);
    }
  } finally {
    await node.stop();
  }
  return result;
}

/** One proxy's rounds in one layout: requests per second, latency and its CPU per request. */
interface ProxyRounds {
  readonly name: string;
  readonly results: WrkResult[];
  readonly cpuUs: number[];
}

interface LayoutResult {
  readonly layout: string;
  readonly description: string;
  /** HAProxy (the reference), the MeshKV balancer, the socket.pipe proxy: same rounds, same order of index. */
  readonly haproxy: ProxyRounds;
  readonly balancer: ProxyRounds;
  readonly pipe: ProxyRounds;
  /** Straight to the backend, no proxy. */
  readonly direct: WrkResult[];
}

type BalancerResult = LayoutResult[];

/**
 * Keep-alive requests through HAProxy (TCP mode, one thread), the MeshKV balancer and a
 * plain `socket.pipe` proxy to the same bare node:http backend, and straight to it, in two
 * layouts: `shared`, nothing pinned, as on a user's machine, where a proxy's CPU per
 * request is taken from the backend and the client; and `isolated`, the proxy alone on
 * core 0 with the backend and wrk on core 1. Each round runs the three proxies one after
 * the other, starting with a different one each round, so that no proxy always comes
 * first after a pause or last after two others warmed the backend.
 */
async function balancerBenchmarks(): Promise<BalancerResult | string> {
  if (!ensureTool('haproxy', ['-v'], settings.install)) return 'HAProxy is not installed (apt-get install haproxy): the balancer was not measured.';
  const layouts: { layout: string; description: string; proxyCpus: string | undefined; backendCpus: string | undefined }[] = [
    { layout: 'shared', description: 'nothing pinned: proxy, backend and wrk share every core', proxyCpus: undefined, backendCpus: undefined },
  ];
  if (pin) {
    layouts.push({
      layout: 'isolated',
      description: 'the proxy alone on core 0, the backend and wrk on core 1',
      proxyCpus: SERVER_CPU,
      backendCpus: WRK_CPU,
    });
  }
  const results: LayoutResult[] = [];
  for (const { layout, description, proxyCpus, backendCpus } of layouts) {
    const backend = await startBare('{"success":true}', backendCpus);
    const proxies: ServerProcess[] = [];
    try {
      proxies.push(await startHaproxy(backend.port, proxyCpus));
      proxies.push(await startBalancerProcess(backend.port, proxyCpus));
      proxies.push(await startPipeProxy(backend.port, proxyCpus));
      const rounds: ProxyRounds[] = proxies.map((proxy) => ({ name: proxy.name, results: [], cpuUs: [] }));
      process.stdout.write(`balancer, ${layout} layout: warming up\n`);
      for (const proxy of proxies) load(proxy, '/', settings.warmupSeconds, undefined, backendCpus);
      for (let round = 0; round < settings.rounds; round++) {
        for (let i = 0; i < proxies.length; i++) {
          const index = (round + i) % proxies.length;
          const { result, cpuUs } = measured(proxies[index] as ServerProcess, '/', settings.seconds, undefined, backendCpus);
          (rounds[index] as ProxyRounds).results.push(result);
          (rounds[index] as ProxyRounds).cpuUs.push(cpuUs);
        }
        const [h, b, p] = rounds.map((r) => r.results[round]?.requestsPerSecond ?? Number.NaN) as [number, number, number];
        process.stdout.write(
          `  round ${round + 1}: HAProxy ${h.toFixed(0)} req/s, MeshKV ${b.toFixed(0)} (${(b / h).toFixed(3)}), socket.pipe ${p.toFixed(0)} (${(p / h).toFixed(3)})\n`,
        );
      }
      const direct = [1, 2, 3].map(() => load(backend, '/', settings.seconds, undefined, backendCpus));
      const [haproxy, balancer, pipe] = rounds as [ProxyRounds, ProxyRounds, ProxyRounds];
      results.push({ layout, description, haproxy, balancer, pipe, direct });
    } finally {
      for (const proxy of proxies) await proxy.stop();
      await backend.stop();
    }
  }
  return results;
}

/** Per-round ratios of `subject` to `reference` (the same rounds). */
function roundRatios(subject: ProxyRounds, reference: ProxyRounds): number[] {
  return subject.results.map((r, i) => r.requestsPerSecond / (reference.results[i]?.requestsPerSecond ?? Number.NaN));
}

interface MeshResult {
  readonly set: PairResult;
  readonly lag: LagRounds;
  readonly ae: AntiEntropyResult;
}

/**
 * What the changes to replication and durable writes bought, and the floors of the goals
 * this machine cannot reach: measured by hand (the commands are in the text), not by this run.
 */
const WHERE_THE_TIME_GOES: readonly string[] = [
  '## Where the time goes',
  '',
  'Measured apart from the runs above, on the same machine (2026-12-07), each change alone, fresh processes alternating.',
  '',
  '**Replication lag.** A write used to wait `REPLICATION_DELAY_MS` (2 ms) for others to share its request, and a 0 ms',
  "wait was a `setTimeout`, which waits a whole millisecond. Now a write leaves when its event-loop turn ends (an",
  'immediate) if no request to that peer is in flight, and the writes made meanwhile leave together right after its',
  'answer. One 5 s round on fresh meshes, p50 / p99: 3.43 / 13.46, 3.19 / 10.31, 3.38 / 10.64 ms with the 2 ms wait;',
  '2.70 / 11.58, 2.87 / 10.53, 2.63 / 11.25 ms with a 0 ms timeout; 1.86 / 12.67, 1.80 / 8.16, 1.77 / 10.32 ms with the',
  'immediate. At full `/set` load the batches still fill (137 records a request) and the mesh write is unchanged.',
  'The tail is the first seconds of fresh processes: of 500 samples, the 37 above 5 ms all but one came in the first',
  '2.6 s; after 3 s the same runs have p99 3.8–5.6 ms. In those seconds node 1 collects its young generation every',
  '0.2–0.35 s for 2–6 ms (`--trace-gc`: 7–13 MB each time, the heap growing), code is not yet optimised, and the',
  "load process's pools open their connections. The event-loop delay (`monitorEventLoopDelay`, 1 ms resolution,",
  'preloaded into each process) has p99 3.4–4.6 ms in each of the four processes (three nodes and the load, on two',
  'cores), so a write crossing two of them meets one such delay now and then. An anti-entropy round every second (the',
  "bench's setting) adds about 1 ms to the p99 of a cold round (7.2–7.9 ms without rounds, 8.0–9.4 ms with). Hence the",
  'rounds above: on warmed processes, as every throughput figure here, with the first round shown apart.',
  '',
  '**A write on a mesh node.** A CPU profile of node 1 under the `/set` load (self time ÷ requests) gives 32 µs of',
  'main thread per write against 17 µs on a lone node: sending to the two peers (the outbox, the JSON text, the',
  "request) 3.5 µs, reading the peers' answers 2.2 µs, the outboxes' bookkeeping 0.7 µs, garbage collection +1.3 µs,",
  'socket writes +1.9 µs, the rest spread thin. Each write is now encoded once for both peers (busy time per write, median',
  'of 4 fresh meshes each: 29.7 → 29.0 µs, within the per-process spread of 26–33 µs). With that work on the same core',
  'as the node, and its peers sharing the load generator\'s core, the mesh node stays near 0.7 of a lone one; reaching',
  '0.8 would need the replication of a write to cost under about 4 µs of the node\'s core, all included.',
  'Then: an outbox hands its whole map over when one batch takes everything waiting (no key-by-key deletes), the',
  'write path loops over the peers without a generator, and a request body is encoded to bytes once for its digest, its',
  'length and the socket (it was encoded three times): node 1 of fresh meshes, 5 rounds alternating, 23,296 → 25,049',
  'req/s (medians), busy time per write 43.5 → 41.2 µs (profiled, 4 rounds). What replication still costs node 1 per',
  'write, at about 21,000 writes a second (140 records a request): the HTTP client 3.7 µs (writing the bodies to the',
  "sockets 0.7, parsing the answers 0.9, the rest its per-request work), signing (a SHA-256 of each body and an HMAC)",
  '1.2 µs, the outboxes 1.1 µs, the JSON of the records 0.5 µs, garbage collection +1.1 µs.',
  'Replication is most of the difference: with a build whose write path sends nothing to the peers and anti-entropy every',
  '10 minutes, node 1 of a mesh ran as the lone nodes of those rounds (37,600–40,100 req/s, 25–26 µs of CPU a write; lone',
  'nodes 38,000–46,800, of both speeds below; against lone nodes of one speed, 0.83: see the floor). Node 1\'s main',
  'thread spent 23.6–27.7 µs of user time a write where a lone node spends 14.7–15.4',
  '(per-thread `/proc` figures; the GC helper threads take almost nothing). More than the profile\'s items add up to:',
  "the rest is the node's own request handling made slower (its stream and promise code shared with the client's",
  'response streams). Then the peer requests went through undici\'s `dispatch` with a handler instead of `request`: no',
  'response stream and no `AbortSignal.timeout` per request. The client alone, 11 KB bodies to a server on the other',
  'core: 107 → 62 µs of CPU a request (a hand-written socket client: 49). Node 1 of fresh meshes, 5 rounds alternating:',
  '28,165 → 31,664 req/s (medians; 23,455–30,570 against 29,563–32,848), 25.5 → 21.9 µs of user time a write. The',
  "signatures' nonces now come from a pool of random bytes (a `randomBytes` call per request took 0.31 µs a write).",
  'Tried and not kept: JSON text of a record built by hand (40 % faster in a loop, but slower in the node: 30,287 →',
  "28,601 and 32,821 → 32,213 req/s, medians of 5 rounds; the text is a chain of pieces the body's encoding must",
  'flatten again), and a 1 ms wait to fill larger batches (no gain: 32,152–33,325 against 24,705–31,947 req/s).',
  'What a write costs node 1 after these changes, fresh lone nodes and meshes alternating, 5 rounds each (main thread,',
  '`/proc`): lone 9.8–15.1 µs of user time and 5.9–7.6 µs of system time a write, mesh 16.2–21.8 and 6.2–8.2: replication',
  'costs node 1 about 6.5 µs of user time a write. In a profile: undici 2.5 µs (writing the requests 1.2, parsing the',
  "answers 1.3, about 40 µs an answer in the loaded process), signing 0.7 µs, the body's JSON text and bytes 1.0 µs, the",
  'outboxes and the rest of the request path 1.3 µs, the rest spread thin. That cost is fixed, so the ratio falls as the',
  'lone node gets faster: 0.63 in those rounds, whose lone nodes ran at 43,900–63,400 req/s (median 62,400); minutes',
  'before, lone nodes at 44,426 and 46,711 and fast meshes at 38,924 and 37,182 (0.80–0.88). And node 1 waits: its core is idle',
  "8 % while core 1, wrk's and both peers' (5.5–6.1 µs of CPU a record each), is 77 % busy, wrk losing its turns to the",
  'peers.',
  '',
  '**The floor of a mesh write.** Two throw-away builds of node 1, every process started with the larger young',
  'generation (below) so that the lone nodes run at one speed; 6 rounds, a fresh lone node, the mesh and both builds',
  'alternating, the lone nodes at 35,400–40,900 req/s (a slow hour). The mesh as shipped: 0.68 of the lone node (0.63–0.72',
  'by round). Replication over one framed TCP stream per peer, without HTTP or signatures, the same JSON records and',
  'answers: 0.71 (0.71–0.73; 0.74, 0.67–0.77, in 7 rounds of another run), each peer spending 5.4–6.3 µs of CPU a record',
  'against 7.4–8.3. Replicating nothing (each write made into its wire text, nothing sent, anti-entropy off): 0.83',
  '(0.78–0.84; 0.81, 0.77–0.85, in 6 rounds of another run). So node 1 of a 3-node mesh on this layout is at about 0.8 of',
  'a lone node before it replicates anything: being one of three costs it 2.8–5.4 µs of user and 0.2–2.8 µs of system',
  'time a write even so (a `perf` profile of the two, software clock: the same code 10–20 % slower throughout, and the',
  "kernel's wake-ups of wrk 2.9 → 4.5 µs a write), and whatever replication costs node 1 or wrk's core comes off that. A",
  'transport without HTTP would take the figure from about 0.68 to about 0.72; 0.80 would need replication at nearly no',
  'cost to either core, which no acknowledged transport of these records has: not reachable on this machine and layout.',
  '',
  '**Fast and slow processes.** A fresh node under load settles, for its whole life, at one of two speeds a quarter',
  "apart. In the bench's order (a /get load, a miss, then /set), 5 fresh lone nodes: 3 at 67,000–70,000 req/s of /get",
  'and 52,600–56,900 of /set, 2 at 51,000–52,000 and 40,500–42,700; user and kernel time both grow in a slow one (not',
  "the address layout, V8's seeds, huge pages or page faults: measured). Bare `node:http` servers under the same load do",
  "not (8 of 8 at 61,000–73,000). V8's young generation, where every request's objects are made, decides it: started at",
  'its largest (`--min-semi-space-size=16`, 32 MB from the first request) every node ran fast, 5 of 5 in that order',
  '(66,500–71,000 and 55,800–58,500) and 8 of 8 under /set alone (50,200–55,300; 5 of 8 without). Under /set alone',
  'the slow nodes had kept it at 16 MB where the fast ones grew it to 32, and without pretenuring (objects of a code site',
  'whose objects survived made straight in the old generation) all 8 grew it and ran fast; in the bench\'s order 3 of 5',
  'were slow again with 32 MB: what the young generation holds when the load starts decides, not its size later. So',
  'every node now starts with `--min-semi-space-size=16` (the image, `npm start`, the tests and this bench). It first',
  'cost too much memory: the 1,000,000 keys read 303.6–306.0 MB with it (293.2 without; goal 300). Those 13 MB were',
  'garbage: V8\'s large-object space held 44.3 MB against 29.6, the key map\'s hash table (a `Map`: 29.4 MB at 1,000,000',
  'keys) and the one it replaced when it last doubled (14.7 MB), which the full collections, fewer with the larger young',
  'generation, had not yet taken; the map split in 16 did not help (306.5 MB: the parts double together). The memory',
  'adapter now keeps its keys in a plain array by slot and finds them through an open-addressing table of slot numbers',
  'outside the heap (`KeySlots`): 1,000,000 keys in 284.5 MB without the flag and 285.8 with it (large-object space',
  '10.7 MB). A lookup of one of 10,000 keys costs 0.03–0.05 µs more than the `Map`\'s (a loop, keys sliced from URLs). A mesh node',
  'replicating writes is not affected (node 1 of fresh meshes, with the larger young generation or not: 29,900 against',
  '30,100 req/s, medians of 5 rounds), so lone nodes that drew the slow speed make the mesh ratio look better than it is.',
  'A ratio of two processes is one of four draws: every figure takes its rounds from',
  `${PROCESS_SETS} sets of fresh processes (with the default 9 rounds, every round on processes of its own), so that the median is not decided by a few draws.`,
  '',
  "**Durable writes.** `sync` answers a write once its commit is on disk. A commit of LMDB is its page writes, an",
  'fdatasync of the file, then the meta page written through a descriptor opened with O_DSYNC (traced: two flushes a',
  'commit); the same system calls in a loop on this disk take 0.44 ms (p50; fdatasync 0.29, meta page 0.12, for 8 to 32',
  "pages). Under the bench's load the 50 connections wait together: 604–683 commits a second of 40–45 writes, each",
  '0.85–0.94 ms from its hand-over to the node seeing it land, the node process (every thread) 82 % busy and spending',
  '29–32 µs of CPU a write against 22 for memory. With LMDB costing no CPU at all, 40 writes at a memory write\'s 22 µs',
  "plus the disk's 0.44 ms would be 0.67 of memory: the flushes cap `sync` below its 0.80 goal on this machine, with this",
  'load. Tried and not kept: commits that overlap the requests (at most one commit in flight, the next gathering the',
  'writes that arrive meanwhile: groups of 25 instead of 45) ran at 22,390–23,920 req/s against 25,749–28,008, each',
  'commit taking 1.03–1.10 ms back to back, and 50 connections split in two groups wait for two commits a round; handing',
  "a turn's writes over every 8 or 16 made each its own commit and flush (3,589 commits a second): 23,000–25,500;",
  "lmdb's overlapping sync (the flush of a commit made while the next commit is written, answers waiting for the flush):",
  '25,211 → 26,097 req/s, within the spread, as expected when no',
  'request is left to work on during a flush; not kept. `batch` commits every 100 ms (about 4,000 writes): LMDB',
  'costs 2.1–2.45 µs of CPU per write in commits of that size (writer thread included, an in-process loop of 100,000',
  "puts), and reading a key's head from it 0.66–0.70 µs plus the decoding of the row. What was done: one LMDB batch",
  'per hand-over instead of a put and a promise per write, `none` committing every 10 ms, the head of a key riding with',
  'its write, and the heads of the 32,768 keys written or looked up last kept in memory, so a write to one of them',
  "reads nothing from LMDB (docs/operations.md). That last one alone, fresh nodes, 4 alternating rounds, medians:",
  'batch 0.75 → 0.83 of memory, sync 0.61 → 0.64.',
];

/** The replication lag paragraph: medians of the rounds with their spread, and the first round apart. */
/** The spread of some values: `lowest–highest`. */
function rangeText(values: readonly number[], digits: number): string {
  return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
}

function lagLines(lag: LagRounds): string[] {
  const { cold, rounds } = lag;
  const first = rounds[0] ?? cold;
  const spread = (pick: (round: LagResult) => number): string => {
    const values = rounds.map(pick);
    return `${fmt(median(values), 2)} ms (${rangeText(values, 2)})`;
  };
  const goal = (value: number, most: number): string => (value <= most ? 'meets goal' : 'above goal');
  return [
    `Replication lag, ${fmt(first.rate)} writes/s to node 1: time from node 1's answer until node 2 returns the value (every 10th`,
    `write, polled about every millisecond), in ${rounds.length} rounds of ${first.seconds} s on the same processes after a first round; median of the`,
    `rounds' percentiles (lowest–highest): **p50 ${spread((r) => r.p50Ms)}, p99 ${spread((r) => r.p99Ms)}**, max ${spread((r) => r.maxMs)}`,
    `(${fmt(first.samples)} samples a round). Goals: p50 ≤ 2 ms (${goal(median(rounds.map((r) => r.p50Ms)), 2)}), p99 ≤ 10 ms (${goal(median(rounds.map((r) => r.p99Ms)), 10)}).`,
    `The first round, on processes just started (code not yet optimised, heaps and connection pools growing): p50 ${fmt(cold.p50Ms, 2)} ms,`,
    `p99 ${fmt(cold.p99Ms, 2)} ms, max ${fmt(cold.maxMs, 2)} ms.`,
  ];
}

/**
 * /set on node 1 of a 3-node mesh against a lone node; replication lag; anti-entropy.
 * Node 1 (and the lone node) run on core 0; its two peers share core 1 with wrk, as a
 * two-core machine allows: in production they would have machines of their own.
 */
async function meshBenchmarks(): Promise<MeshResult> {
  let lag: LagRounds;
  let ae: AntiEntropyResult;
  const [set] = (await overProcessSets(async (rounds) => {
    const lone = await startDatabase();
    try {
      const mesh = await startMesh(3, (i) => (i === 0 ? SERVER_CPU : WRK_CPU));
      try {
        return [pair('GET /set over 10,000 keys, node of a 3-node mesh vs a lone node', 0.8, lone, mesh[0] as Target, '/', SET_SCRIPT, rounds)];
      } finally {
        await Promise.all(mesh.map((node) => node.stop()));
      }
    } finally {
      await lone.stop();
    }
  })) as [PairResult];
  const fresh = await startMesh(3, () => undefined);
  try {
    process.stdout.write(`replication lag: 1,000 writes/s on node 1, read on node 2, ${settings.rounds} rounds of 5 s after a first one\n`);
    lag = await replicationLag(fresh, 1000, 5, settings.rounds);
    for (const round of [lag.cold, ...lag.rounds]) process.stdout.write(`  p50 ${round.p50Ms.toFixed(2)} ms, p99 ${round.p99Ms.toFixed(2)} ms (${round.samples} samples)\n`);
  } finally {
    await Promise.all(fresh.map((node) => node.stop()));
  }
  // A mesh of its own: the keys the lag rounds wrote are not part of the join.
  const empty = await startMesh(3, () => undefined);
  try {
    process.stdout.write(`anti-entropy: a 4th node joins ${settings.aeKeys} keys\n`);
    ae = await antiEntropy(empty, settings.aeKeys, 1000);
    process.stdout.write(`  joined in ${ae.joinSeconds.toFixed(2)} s, ${(ae.bootstrap.bytesIn / 1e6).toFixed(1)} MB\n`);
  } finally {
    await Promise.all(empty.map((node) => node.stop()));
  }
  return { set, lag, ae };
}

interface WatchResult {
  readonly watchers: number;
  /** /set on a node with the watchers against one without. */
  readonly set: PairResult;
  /** Per round of the watched node: events its watchers received per second, and writes per second. */
  readonly delivered: number[];
  readonly writes: number[];
  /** ms from the end of the last round until every watch had every event (undefined: not within 60 s). */
  readonly catchUpMs: number | undefined;
  readonly reconnects: number;
  readonly expired: number;
  readonly latency: LagResult;
}

const WATCH_SCENARIO = 'GET /set with 1,000 SSE watchers of every key, reference: the same /set on a node without watchers';

/**
 * Change feeds: /set on a node that `settings.watchers` server-sent event watches of every
 * key follow (a process of their own, on the load generator's core), against a node without
 * watchers; the events those watchers receive per second during the node's rounds; how long
 * after the writes stop every watch has every event; then the latency from a write on node
 * 1 of a 3-node mesh to its event on a watcher of node 3.
 */
async function watchBenchmarks(): Promise<WatchResult> {
  const plain = await startDatabase();
  const watched = await startDatabase();
  let result: Omit<WatchResult, 'latency'>;
  try {
    process.stdout.write(`change feeds: ${settings.watchers} SSE watchers of every key\n`);
    const watchers = await startWatchers(`http://127.0.0.1:${watched.port}`, settings.watchers, WRK_CPU);
    try {
      const windows: [number, number][] = [];
      const whileLoaded = (): (() => void) => {
        const from = Date.now();
        return () => windows.push([from, Date.now()]);
      };
      const set = pair(WATCH_SCENARIO, Number.NaN, plain, { name: watched.name, port: watched.port, pid: watched.pid, whileLoaded }, '/', SET_SCRIPT);
      const ended = Date.now();
      const lastSeq = async (): Promise<number> => {
        const res = await fetch(`http://127.0.0.1:${watched.port}/watch?wait=0`);
        const { next } = (await res.json()) as { next: string };
        return Number(next.slice(next.lastIndexOf('-') + 1));
      };
      const last = await lastSeq();
      let catchUpMs: number | undefined;
      for (let waited = 0; waited < 60_000 && catchUpMs === undefined; waited += 100) {
        if ((await watchers.report()).minSeq >= last) catchUpMs = Date.now() - ended;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const report = await watchers.report();
      // The warm-up window is the first: the rounds are the ones after it.
      const rounds = windows.slice(-set.subject.length);
      const delivered = rounds.map(([from, to]) => eventsBetween(report, from, to) / ((to - from) / 1000));
      result = { watchers: settings.watchers, set, delivered, writes: set.subject.map((r) => r.requestsPerSecond), catchUpMs, reconnects: report.reconnects, expired: report.expired };
      process.stdout.write(`  events delivered per second (median): ${fmt(median(delivered))}; caught up ${catchUpMs === undefined ? 'not within 60 s' : `in ${fmt(catchUpMs)} ms`}\n`);
    } finally {
      watchers.stop();
    }
  } finally {
    await plain.stop();
    await watched.stop();
  }
  const mesh = await startMesh(3, () => undefined);
  try {
    process.stdout.write('change feeds: latency from a write on node 1 to its event on node 3, 1,000 writes/s for 5 s\n');
    const latency = await eventLatency(mesh, 1000, 5);
    process.stdout.write(`  p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms\n`);
    return { ...result, latency };
  } finally {
    await Promise.all(mesh.map((node) => node.stop()));
  }
}

/**
 * Sends /set for keys 0..count-1 (16 digits, 100-character values) over `connections`
 * keep-alive connections, each key once; throws on the first non-200 answer.
 */
async function loadKeys(port: number, count: number, connections: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const key = String(next++).padStart(16, '0');
      const { statusCode, body } = await pool.request({ method: 'GET', path: `/set?k=${key}&v=${key}${'v'.repeat(84)}` });
      await body.dump();
      if (statusCode !== 200) throw new Error(`/set answered ${statusCode} while loading`);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    await pool.close();
  }
}

/**
 * The node processes' CPU per request in a pairing, medians of the rounds (user + system
 * time from /proc, every thread): unlike the ratio, it does not move with how fast the
 * machine or a process happens to be, so it says what the subject's extra work costs.
 */
function cpuText(p: PairResult, reference: string, subject: string): string {
  const ref = median(p.referenceCpuUs);
  const sub = median(p.subjectCpuUs);
  return `${reference} ${fmt(ref, 1)} µs (${rangeText(p.referenceCpuUs, 1)}), ${subject} ${fmt(sub, 1)} µs (${rangeText(p.subjectCpuUs, 1)}): ${sub >= ref ? '+' : ''}${fmt(sub - ref, 1)} µs`;
}

/** The durability mode a durable storage row measures, as code: `sync`. */
function modeOf(p: PairResult): string {
  return `\`${p.name.replace(/^.*DURABILITY=/, '')}\``;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function render(
  pairs: PairResult[],
  mem: MemoryResult | undefined,
  mesh: MeshResult | undefined,
  lb: BalancerResult | string | undefined,
  st: StressPair | undefined,
  dur?: DurabilityResult,
  watch?: WatchResult,
): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`packages/tests/src/bench/`). Every MeshKV figure is paired with its',
    'reference, measured in the same run on the same machine, and the ratio is what counts: absolute',
    'figures move with the machine, ratios much less. Speeds are reported, never asserted in CI.',
    '',
    `Last run: ${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} × ${cpu} · ` +
      `${pin ? 'server pinned to core 0, wrk to core 1' : 'no core pinning'} · wrk -t1 -c${settings.connections}, ` +
      `${settings.rounds} rounds of ${settings.seconds} s after a ${settings.warmupSeconds} s warm-up.`,
  ];
  if (pairs.length > 0) {
    lines.push(
      '',
      '## One node against a bare `node:http` server',
      '',
      'The reference is a `node:http` server that answers every request with a constant JSON body and',
      'the same headers (`bare-server.ts`). The ratio is the median of the per-round ratios',
      '(MeshKV req/s ÷ reference req/s); the rounds alternate reference and MeshKV. The miss row is',
      'the exception: its reference is a hit on the same node, so its ratio is miss ÷ hit; the API key,',
      'HTTPS and scrape rows too: their reference is the same /get on a fresh node without keys, over HTTP,',
      'not scraped (the scraped node has its /metrics fetched every second by a process of its own during its rounds).',
      `Every row takes its rounds from ${PROCESS_SETS} sets of fresh processes (the per-round ratios below come in groups`,
      'of a set; so do the replication and durable storage rows): with V8\'s default young generation a fresh node process',
      'was fast or slow for its whole life, by chance (one in three slow on this machine; nodes now start with it at its',
      'largest, see Where the time goes), and one process should not decide a figure.',
      '',
      '| scenario | reference req/s (median) | MeshKV req/s (median) | ratio | goal | MeshKV p50 / p99 | reference p50 / p99 |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
  }
  for (const p of pairs) {
    const ratio = median(p.ratios);
    lines.push(
      `| ${p.name} | ${fmt(median(p.reference.map((r) => r.requestsPerSecond)))} | ${fmt(median(p.subject.map((r) => r.requestsPerSecond)))} | ` +
        `**${ratio.toFixed(2)}** ${p.goal === 0 ? '(recorded)' : ratio >= p.goal ? '(meets goal)' : '(below goal)'} | ${p.goal === 0 ? '—' : `≥ ${p.goal.toFixed(2)}`} | ` +
        `${fmt(median(p.subject.map((r) => r.latencyP50Ms)), 2)} / ${fmt(median(p.subject.map((r) => r.latencyP99Ms)), 2)} ms | ` +
        `${fmt(median(p.reference.map((r) => r.latencyP50Ms)), 2)} / ${fmt(median(p.reference.map((r) => r.latencyP99Ms)), 2)} ms |`,
    );
  }
  if (pairs.length > 0) lines.push('', 'Per-round ratios:', '');
  for (const p of pairs) lines.push(`- ${p.name}: ${p.ratios.map((r) => r.toFixed(3)).join(', ')}`);
  if (mem !== undefined) {
    lines.push(
      '',
      '## Memory of one node',
      '',
      `${fmt(mem.keys)} keys of 16 characters with 100-character values, loaded through \`/set\` by an undici`,
      `pool (64 keep-alive connections, each key once), then the node's resident set size read from \`/proc/PID/status\`. Goal: at most 300 MB.`,
      '',
      '| keys stored | RSS empty | RSS loaded | loaded − empty per key | load time | goal |',
      '|---:|---:|---:|---:|---:|---:|',
      `| ${fmt(mem.stored)} | ${fmt(mem.rssEmpty / 1e6, 1)} MB | **${fmt(mem.rssLoaded / 1e6, 1)} MB** ${mem.rssLoaded <= 300e6 ? '(meets goal)' : '(over goal)'} | ` +
        `${fmt((mem.rssLoaded - mem.rssEmpty) / mem.stored, 0)} B | ${fmt(mem.seconds, 1)} s | ≤ 300 MB |`,
      '',
      `Then, on the same ${fmt(mem.stored)} keys, one connection for 3 s each: \`/scan?limit=100&after=K\` from a random key K`,
      '(100 keys and values, about 12 kB) against `/get` of a random key, whose latency is the HTTP round trip alone.',
      'The scan\'s server time is at most its latency, and about its latency minus the /get\'s. Goal: under 1 ms.',
      '',
      '| request | req/s | p50 | p99 | p50 − /get p50 |',
      '|---|---:|---:|---:|---:|',
      `| /scan of 100 keys | ${fmt(mem.scan.requestsPerSecond)} | ${fmt(mem.scan.latencyP50Ms, 3)} ms | ${fmt(mem.scan.latencyP99Ms, 3)} ms | **${fmt(mem.scan.latencyP50Ms - mem.get.latencyP50Ms, 3)} ms** |`,
      `| /get | ${fmt(mem.get.requestsPerSecond)} | ${fmt(mem.get.latencyP50Ms, 3)} ms | ${fmt(mem.get.latencyP99Ms, 3)} ms | |`,
    );
  }
  if (mesh !== undefined) {
    const { set, lag, ae } = mesh;
    const kb = (bytes: number): string => `${fmt(bytes / 1e3, 1)} kB`;
    lines.push(
      '',
      '## Replication (3 node processes)',
      '',
      'The mesh node runs on core 0 like the lone node; its two peers share core 1 with wrk (a',
      'two-core machine has no better place for them), so the mesh figure also pays for its peers.',
      `The rounds come from ${PROCESS_SETS} sets of a fresh lone node and a fresh mesh.`,
      '',
      '| scenario | lone node req/s (median) | mesh node req/s (median) | ratio | goal | mesh p50 / p99 |',
      '|---|---:|---:|---:|---:|---:|',
      `| ${set.name} | ${fmt(median(set.reference.map((r) => r.requestsPerSecond)))} | ${fmt(median(set.subject.map((r) => r.requestsPerSecond)))} | ` +
        `**${median(set.ratios).toFixed(2)}** (${median(set.ratios) >= set.goal ? 'meets goal' : 'below goal'}) | ≥ ${set.goal.toFixed(2)} | ${fmt(median(set.subject.map((r) => r.latencyP50Ms)), 2)} / ${fmt(median(set.subject.map((r) => r.latencyP99Ms)), 2)} ms |`,
      '',
      `Per-round ratios: ${set.ratios.map((r) => r.toFixed(3)).join(', ')}`,
      '',
      `CPU per write of the node process (user + system time from /proc, median of the rounds): ${cpuText(set, 'lone node', 'mesh node')},`,
      "what replication costs node 1 a write, whatever the speed of the round's processes.",
      '',
      ...lagLines(lag),
      '',
      `Anti-entropy with ${fmt(ae.keys)} keys (100-character values) on a 3-node mesh:`,
      '',
      '| round | time | records pulled / pushed | bytes in / out |',
      '|---|---:|---:|---:|',
      `| a new node joins (process start to ready with every key: ${fmt(ae.joinSeconds, 2)} s) | ${fmt(ae.bootstrap.ms, 0)} ms | ${fmt(ae.bootstrap.pulled)} / ${fmt(ae.bootstrap.pushed)} | ${kb(ae.bootstrap.bytesIn)} / ${kb(ae.bootstrap.bytesOut)} |`,
      `| nodes agree (digests only) | ${fmt(ae.idle.ms, 0)} ms | ${fmt(ae.idle.pulled)} / ${fmt(ae.idle.pushed)} | ${kb(ae.idle.bytesIn)} / ${kb(ae.idle.bytesOut)} |`,
      `| ${fmt(ae.diffKeys)} keys differ | ${fmt(ae.repair.ms, 0)} ms | ${fmt(ae.repair.pulled)} / ${fmt(ae.repair.pushed)} | ${kb(ae.repair.bytesIn)} / ${kb(ae.repair.bytesOut)} |`,
    );
  }
  if (watch !== undefined) {
    const { set, delivered, writes, latency } = watch;
    const share = delivered.map((events, i) => events / ((writes[i] ?? Number.NaN) * watch.watchers));
    lines.push(
      '',
      '## Change feeds',
      '',
      `${fmt(watch.watchers)} server-sent event watches of every key, held by a process of their own on core 1 (with wrk), follow`,
      'the watched node; the reference is a node without watchers, in the same run. Every write is an event for',
      'every watcher: the node sends writes/s × watchers events a second, or falls behind and cuts the streams',
      'that fall WATCH_QUEUE_EVENTS behind (they reconnect after their last id, or from the present once out of the buffer).',
      'The watchers\' process shares core 1 with wrk: where it reads less than writes/s × watchers, it lags and catches up',
      'after the rounds (the time it took is below), so the events delivered per second are a lower bound of what the node sends.',
      '',
      '| scenario | no watchers req/s (median) | with watchers req/s (median) | ratio |',
      '|---|---:|---:|---:|',
      `| ${set.name} | ${fmt(median(set.reference.map((r) => r.requestsPerSecond)))} | ${fmt(median(set.subject.map((r) => r.requestsPerSecond)))} | **${median(set.ratios).toFixed(2)}** |`,
      '',
      `Per-round ratios: ${set.ratios.map((r) => r.toFixed(3)).join(', ')}`,
      '',
      `Events delivered to the watchers while the node took those writes: **${fmt(median(delivered))} events/s** (median of the rounds;`,
      `${delivered.map((d) => fmt(d)).join(', ')}), ${fmt(median(share) * 100, 1)} % of writes/s × watchers. Every watch had every event`,
      `${watch.catchUpMs === undefined ? '— not within 60 s of the last round' : `${fmt(watch.catchUpMs)} ms after the last round ended`}; streams reconnected ${fmt(watch.reconnects)} times`,
      `(${fmt(watch.expired)} of them out of the buffer, restarting from the present).`,
      '',
      `Latency from a write on node 1 of a 3-node mesh to its event on a watcher of node 3, ${fmt(latency.rate)} writes/s for ${latency.seconds} s`,
      `(the write sent → the event read, one clock): **p50 ${fmt(latency.p50Ms, 2)} ms, p99 ${fmt(latency.p99Ms, 2)} ms**, max ${fmt(latency.maxMs, 2)} ms (${fmt(latency.samples)} events).`,
    );
  }
  if (typeof lb === 'string') {
    lines.push('', '## Load balancer', '', lb);
  } else if (lb !== undefined) {
    lines.push(
      '',
      '## Load balancer against HAProxy',
      '',
      'wrk keep-alive GETs through a proxy to one bare `node:http` backend. The reference is HAProxy 2 in TCP',
      'mode with one thread; the calibration point is a plain `socket.pipe` proxy (`pipe-proxy.ts`): where it',
      'reaches HAProxy too, the layout is bound by the backend and wrk, and says little of the proxies. Each round',
      'runs the three one after the other, starting with a different one each round; a ratio is the median of',
      'the per-round ratios to HAProxy. CPU per request: user + system time of the proxy process, from /proc.',
      '',
      '| layout | proxy | req/s (median) | ratio to HAProxy | goal | CPU per request | p50 / p99 |',
      '|---|---|---:|---:|---:|---:|---:|',
    );
    for (const l of lb) {
      for (const proxy of [l.haproxy, l.balancer, l.pipe]) {
        const ratio = proxy === l.haproxy ? 1 : median(roundRatios(proxy, l.haproxy));
        const goal = proxy === l.balancer ? (ratio >= 1 ? '≥ 1.00 (meets goal)' : '≥ 1.00 (below goal)') : '';
        lines.push(
          `| ${l.layout} | ${proxy.name} | ${fmt(median(proxy.results.map((r) => r.requestsPerSecond)))} | ` +
            `${proxy === l.balancer ? `**${ratio.toFixed(2)}**` : ratio.toFixed(2)} | ${goal} | ${fmt(median(proxy.cpuUs), 1)} µs | ` +
            `${fmt(median(proxy.results.map((r) => r.latencyP50Ms)), 2)} / ${fmt(median(proxy.results.map((r) => r.latencyP99Ms)), 2)} ms |`,
        );
      }
    }
    lines.push('');
    for (const l of lb) {
      lines.push(
        `- ${l.layout} (${l.description}): MeshKV per round ${roundRatios(l.balancer, l.haproxy).map((r) => r.toFixed(2)).join(', ')}; ` +
          `socket.pipe per round ${roundRatios(l.pipe, l.haproxy).map((r) => r.toFixed(2)).join(', ')}. ` +
          `Straight to the backend, no proxy (3 runs after the rounds): ${fmt(median(l.direct.map((r) => r.requestsPerSecond)))} req/s, ` +
          `p50 ${fmt(median(l.direct.map((r) => r.latencyP50Ms)), 2)} ms.`,
      );
    }
  }
  if (st !== undefined) {
    const ratio = median(st.ratios);
    lines.push(
      '',
      '## The stress tool against wrk',
      '',
      `\`npm run stress\` (one worker thread, ${settings.connections} requests in flight) and wrk (\`-t1 -c${settings.connections}\`) against the same node,`,
      'the same URL (`/get` of one key), on the same core, in alternating rounds. Goal: the tool reaches at least 80% of',
      "wrk's requests per second, so that it measures the server and not itself.",
      '',
      '| wrk req/s (median) | stress req/s (median) | ratio | goal | wrk p50 / p99 | stress p50 / p99 |',
      '|---:|---:|---:|---:|---:|---:|',
      `| ${fmt(median(st.wrk.map((r) => r.requestsPerSecond)))} | ${fmt(median(st.stress.map((r) => r.requestsPerSecond)))} | ` +
        `**${ratio.toFixed(2)}** ${ratio >= 0.8 ? '(meets goal)' : '(below goal)'} | ≥ 0.80 | ` +
        `${fmt(median(st.wrk.map((r) => r.latencyP50Ms)), 2)} / ${fmt(median(st.wrk.map((r) => r.latencyP99Ms)), 2)} ms | ` +
        `${fmt(median(st.stress.map((r) => r.p50)), 2)} / ${fmt(median(st.stress.map((r) => r.p99)), 2)} ms |`,
      '',
      `Per-round ratios: ${st.ratios.map((r) => r.toFixed(3)).join(', ')}`,
    );
  }
  if (dur !== undefined) {
    lines.push(
      '',
      '## Durable storage (STORAGE=lmdb) against memory',
      '',
      '`/set` on one node with `STORAGE=lmdb` in each `DURABILITY` mode; the reference is the same node with',
      `\`STORAGE=memory\`, in the same layout (${settings.rounds} alternating rounds each, from ${PROCESS_SETS} sets of fresh processes). \`sync\` answers each write only once fsynced (the`,
      'writes of one event-loop turn share a commit); `batch` and `none` answer at once and commit the writes of',
      'each `DURABILITY_INTERVAL_MS` (batch) or 10 ms (none) together (docs/operations.md).',
      '',
      '| mode | memory req/s (median) | lmdb req/s (median) | ratio | goal | lmdb p50 / p99 |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const p of dur.pairs) {
      const r = median(p.ratios);
      const goal = p.goal > 0 ? `≥ ${p.goal.toFixed(2)}` : '—';
      const verdict = p.goal > 0 ? ` (${r >= p.goal ? 'meets goal' : 'below goal'})` : '';
      lines.push(
        `| ${modeOf(p)} | ${fmt(median(p.reference.map((x) => x.requestsPerSecond)))} | ${fmt(median(p.subject.map((x) => x.requestsPerSecond)))} | ` +
          `**${r.toFixed(2)}**${verdict} | ${goal} | ${fmt(median(p.subject.map((x) => x.latencyP50Ms)), 2)} / ${fmt(median(p.subject.map((x) => x.latencyP99Ms)), 2)} ms |`,
      );
    }
    lines.push('', ...dur.pairs.map((p) => `- ${modeOf(p)} per round: ${p.ratios.map((r) => r.toFixed(2)).join(', ')}`));
    lines.push(
      '',
      'CPU per write of the node process (user + system time from /proc, LMDB\'s writer thread included, median of the rounds):',
      '',
      ...dur.pairs.map((p) => `- ${modeOf(p)}: ${cpuText(p, 'memory', 'lmdb')}`),
    );
    if (dur.restart !== undefined) {
      const d = dur.restart;
      lines.push(
        '',
        `${fmt(d.keys)} keys of 16 characters with 100-character values, loaded through \`/set\` (sync, 64 connections) in ${fmt(d.loadSeconds, 1)} s: ` +
          `RSS ${fmt(d.rssLoaded / 1e6, 1)} MB. Then restarted twice:`,
        '',
        '| stop | listening after spawn | of it, opening the storage | digests | records | RSS after |',
        '|---|---:|---:|---|---:|---:|',
      );
      for (const [how, r] of [
        ['SIGTERM (clean: the digests are saved)', d.clean],
        ['SIGKILL (every version read again)', d.crash],
      ] as const) {
        lines.push(`| ${how} | ${fmt(r.restartMs)} ms | ${fmt(r.openMs, 1)} ms | ${r.digests} | ${fmt(r.records)} | ${fmt(r.rss / 1e6, 1)} MB |`);
      }
    }
  }
  lines.push('', ...WHERE_THE_TIME_GOES);
  lines.push(
    '',
    '## Reproduce',
    '',
    '```sh',
    'npm run bench                       # all of the above, rewrites this file',
    'BENCH_ROUNDS=3 BENCH_SECONDS=3 BENCH_MEMORY_KEYS=0 BENCH_MESH=0 BENCH_BALANCER=0 npm run bench   # quicker: one node only',
    '```',
    '',
    'Settings: `BENCH_ROUNDS` (9), `BENCH_SECONDS` (3), `BENCH_WARMUP_SECONDS` (3), `BENCH_CONNECTIONS` (50),',
    '`BENCH_MEMORY_KEYS` (1000000, 0 skips), `BENCH_MESH=0` (skips replication), `BENCH_AE_KEYS` (100000), `BENCH_BALANCER=0` (skips the balancer), `BENCH_SINGLE=0` (skips the single node), `BENCH_STRESS=0` (skips the stress tool), `BENCH_DURABILITY=0` (skips durable storage), `BENCH_WATCH=0` (skips change feeds), `BENCH_WATCHERS` (1000),',
    '`BENCH_OUTPUT` (this file), `BENCH_INSTALL=0` (never install wrk).',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  ensureWrk(settings.install);
  if (!fs.existsSync(DATABASE_ENTRY)) throw new Error(`${DATABASE_ENTRY} is missing: run npm run build first`);
  const pairs = settings.single ? await singleNode() : [];
  const mem = settings.memoryKeys > 0 ? await memory(settings.memoryKeys) : undefined;
  const mesh = settings.mesh ? await meshBenchmarks() : undefined;
  const lb = settings.balancer ? await balancerBenchmarks() : undefined;
  const st = settings.stress ? await stressVsWrk() : undefined;
  const dur = settings.durability ? await durabilityBenchmarks(settings.memoryKeys) : undefined;
  const watch = settings.watch ? await watchBenchmarks() : undefined;
  const text = render(pairs, mem, mesh, lb, st, dur, watch);
  fs.mkdirSync(path.dirname(settings.output), { recursive: true });
  fs.writeFileSync(settings.output, text);
  process.stdout.write(`\n${text}\nwritten to ${path.relative(process.cwd(), settings.output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
