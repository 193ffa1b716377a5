import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { request, waitFor } from '../helpers/http';

const ENTRY = path.join(__dirname, '..', '..', 'src', 'main.js');

interface Running {
  readonly child: ChildProcess;
  readonly lines: () => Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(env: Record<string, string>, entry = ENTRY): Running {
  const child = spawn(process.execPath, [entry], {
    // A clean environment: only what the test gives, so a developer's .env or shell cannot leak in.
    env: { PATH: process.env.PATH ?? '', BIND_ADDRESS: '127.0.0.1', PORT: '0', HOSTNAME: 'proc-test', ...env },
    cwd: path.join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // 'close', not 'exit': it comes after the child's output has been read to the end.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stderr: () => err,
    exited,
  };
}

describe('the node process', () => {
  const started: Running[] = [];
  afterEach(() => {
    for (const r of started.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  });

  const start = async (env: Record<string, string> = {}, entry = ENTRY): Promise<{ r: Running; url: string }> => {
    const r = run(env, entry);
    started.push(r);
    await waitFor(() => r.lines().some((l) => l.msg === 'listening') || r.child.exitCode !== null, 10000, 'the node to listen');
    const url = r.lines().find((l) => l.msg === 'listening')?.url;
    expect(url, r.stderr()).to.be.a('string');
    return { r, url: url as string };
  };

  it('starts, logs its URL as JSON and serves requests', async () => {
    const { r, url } = await start({ NODE_ID: 'proc-1' });
    expect(r.lines()[0]).to.include({ msg: 'starting', nodeId: 'proc-1', storage: 'memory' });
    expect((await request(url, '/set?k=a&v=1')).status).to.equal(200);
    expect((await request(url, '/get?k=a')).json()).to.equal('1');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops cleanly on ${signal} with exit code 0`, async () => {
      const { r } = await start();
      r.child.kill(signal);
      const { code } = await r.exited;
      expect(code).to.equal(0);
      const messages = r.lines().map((l) => l.msg);
      expect(messages).to.include('shutting down');
      expect(messages[messages.length - 1]).to.equal('stopped');
    });
  }

  it('reports every configuration error at once on stderr and exits 1', async () => {
    const r = run({ PORT: 'eighty', MAX_KEY_LENGTH: '0', LOG_LEVEL: 'shout' });
    started.push(r);
    const { code } = await r.exited;
    expect(code).to.equal(1);
    const text = r.stderr();
    expect(text).to.contain('Invalid configuration');
    expect(text).to.contain('PORT must be a whole number from 0 to 65535 (got "eighty")');
    expect(text).to.contain('MAX_KEY_LENGTH');
    expect(text).to.contain('LOG_LEVEL');
  });

  it('refuses to start without MESH_SECRET on an address other machines reach, unless MESH_INSECURE=true', async () => {
    const refused = run({ BIND_ADDRESS: '0.0.0.0' });
    started.push(refused);
    expect((await refused.exited).code).to.equal(1);
    expect(refused.stderr()).to.contain('MESH_SECRET is not set and BIND_ADDRESS (0.0.0.0) is reachable from other machines');
    expect(refused.stderr()).to.contain('openssl rand -hex 32');
    const opens: Record<string, string>[] = [{ BIND_ADDRESS: '0.0.0.0', MESH_INSECURE: 'true' }, { BIND_ADDRESS: '0.0.0.0', MESH_SECRET: 's3cret' }];
    for (const env of opens) await start(env);
  });

  it('starts nothing when imported as a library, and still runs as a program from dist/index.js', async () => {
    const library = path.join(__dirname, '..', '..', 'src', 'index.js');
    const imported = spawn(process.execPath, ['-e', `const db = require(${JSON.stringify(library)}); console.log(typeof db.createNode)`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    imported.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => imported.on('close', resolve));
    expect({ code, out: out.trim() }).to.deep.equal({ code: 0, out: 'function' });
    const { r } = await start({}, library);
    r.child.kill('SIGTERM');
    expect((await r.exited).code).to.equal(0);
  });

  it('exits 1 with a clear log line when its port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = run({ PORT: String(port) });
      started.push(r);
      const { code } = await r.exited;
      expect(code).to.equal(1);
      const fatal = r.lines().find((l) => l.msg === 'cannot listen');
      expect(fatal).to.include({ port });
    } finally {
      blocker.close();
    }
  });

  it('with DATA_SLOT=auto, nodes sharing DATA_DIR each take a slot, and get their data and node id back after a clean stop', async () => {
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-shared-'));
    try {
      const env = { STORAGE: 'lmdb', DATA_DIR: shared, DATA_SLOT: 'auto', START_ALONE: 'true' };
      const nodes = await Promise.all([start(env), start(env)]);
      const opened = nodes.map(({ r }) => r.lines().find((l) => l.msg === 'starting') ?? {});
      expect(opened.map((l) => l.dataSlot).sort()).to.deep.equal([1, 2]);
      const first = nodes[opened.findIndex((l) => l.dataSlot === 1)];
      expect((await request(first?.url ?? '', '/set?k=kept&v=yes')).status).to.equal(200);
      for (const { r } of nodes) r.child.kill('SIGTERM');
      for (const { r } of nodes) expect((await r.exited).code).to.equal(0);
      expect(fs.readdirSync(shared).filter((name) => name.endsWith('.lock')), 'a clean stop gives its slot back').to.deep.equal([]);

      const again = await start(env);
      const line = again.r.lines().find((l) => l.msg === 'starting');
      expect(line).to.include({ dataSlot: 1, dataDir: path.join(shared, 'node-1'), nodeId: opened.find((l) => l.dataSlot === 1)?.nodeId });
      expect((await request(again.url, '/get?k=kept')).json()).to.equal('yes');
      const taken = run({ ...env, DATA_SLOT: '1' });
      started.push(taken);
      expect((await taken.exited).code).to.equal(1);
      expect(taken.stderr()).to.match(/DATA_SLOT=1: .* is held by a running node/);
      again.r.child.kill('SIGTERM');
      await again.r.exited;
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });
});
