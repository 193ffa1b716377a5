import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEFAULTS, loadConfig } from '../../src/config';

describe('config', () => {
  it('uses the documented defaults for an empty environment', () => {
    const config = loadConfig({ HOSTNAME: 'h1' });
    expect(config.port).to.equal(DEFAULTS.PORT);
    expect(config.bindAddress).to.equal('0.0.0.0');
    expect(config.hostname).to.equal('h1');
    expect(config.advertiseUrl).to.equal(`http://h1:${DEFAULTS.PORT}`);
    expect(config.nodeId).to.equal(undefined);
    expect(config.maxKeyLength).to.equal(64);
    expect(config.maxValueLength).to.equal(256);
    expect(config.logLevel).to.equal('info');
    expect(config.storage).to.equal('memory');
    expect(config.maxUrlLength).to.equal(DEFAULTS.MAX_URL_LENGTH);
    expect(config.shutdownDrainMs).to.equal(0);
    expect(config.gcMode).to.equal('throughput');
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '9000',
      BIND_ADDRESS: '127.0.0.1',
      HOSTNAME: 'db-1',
      ADVERTISE_URL: 'http://db-1.example:9000/',
      NODE_ID: 'node_A-1.x',
      MAX_KEY_LENGTH: '10',
      MAX_VALUE_LENGTH: '0',
      LOG_LEVEL: 'DEBUG',
      STORAGE: 'lmdb',
      DATA_DIR: '/var/lib/meshkv',
      DATA_SLOT: 'AUTO',
      DURABILITY: 'batch',
      DURABILITY_INTERVAL_MS: '250',
      MIN_FREE_DISK_MB: '3',
      LOG_FORMAT: 'pretty',
      MAX_URL_LENGTH: '1000',
      MAX_CONNECTIONS: '5',
      HEADERS_TIMEOUT_MS: '100',
      REQUEST_TIMEOUT_MS: '200',
      KEEP_ALIVE_TIMEOUT_MS: '300',
      SHUTDOWN_TIMEOUT_MS: '400',
      SHUTDOWN_DRAIN_MS: '50',
      GC_MODE: 'compact',
      UI_INTERVAL_MS: '250',
      UI_BALANCER_URL: 'http://lb:8081/',
      UI_BALANCER_TOKEN: 'token',
      MESH_NETWORK_URL: ' db-2:9000, http://db-3:9000/ ,,db-2:9000, dns://tasks.db:9000',
      DNS_SERVERS: '127.0.0.1:5353, [::1]:53',
      MESH_SECRET: 's3cret',
      WRITE_CONCERN: 'ALL',
      WRITE_TIMEOUT_MS: '1500',
      PING_INTERVAL_MS: '100',
      PING_TIMEOUT_MS: '90',
      SUSPECT_AFTER_MS: '300',
      DOWN_AFTER_MS: '600',
      DOWN_PING_INTERVAL_MS: '700',
      FORGET_AFTER_MS: '6000',
      MESH_REQUEST_TIMEOUT_MS: '800',
      REPLICATION_BATCH: '10',
      REPLICATION_DELAY_MS: '0',
      REPLICATION_RETRY_MAX_MS: '900',
      OUTBOX_MAX: '50',
      AE_INTERVAL_MS: '1000',
      TOMBSTONE_TTL_MS: '60000',
      MAX_CLOCK_DRIFT_MS: '0',
      MESH_MAX_BODY_BYTES: '4096',
      START_ALONE: 'true',
      JOIN_TIMEOUT_MS: '5000',
      WATCH_BUFFER_EVENTS: '500',
      WATCH_BUFFER_MB: '2',
      WATCH_MAX_CONNECTIONS: '7',
      WATCH_HEARTBEAT_MS: '1000',
      WATCH_QUEUE_EVENTS: '50',
    });
    expect(config).to.deep.equal({
      port: 9000,
      bindAddress: '127.0.0.1',
      hostname: 'db-1',
      advertiseUrl: 'http://db-1.example:9000',
      nodeId: 'node_A-1.x',
      maxKeyLength: 10,
      maxValueLength: 0,
      maxTtlMs: 2_592_000_000,
      batchMaxOps: 1000,
      logLevel: 'debug',
      logFormat: 'pretty',
      storage: 'lmdb',
      dataDir: '/var/lib/meshkv',
      dataSlot: 'auto',
      durability: 'batch',
      durabilityIntervalMs: 250,
      minFreeDiskBytes: 3 * 1024 * 1024,
      maxUrlLength: 1000,
      maxConnections: 5,
      headersTimeoutMs: 100,
      requestTimeoutMs: 200,
      keepAliveTimeoutMs: 300,
      sendTimeoutMs: 30000,
      shutdownTimeoutMs: 400,
      shutdownDrainMs: 50,
      gcMode: 'compact',
      mesh: {
        seeds: ['http://db-2:9000', 'http://db-3:9000'],
        seedSpecs: [
          { kind: 'url', url: 'http://db-2:9000' },
          { kind: 'url', url: 'http://db-3:9000' },
          { kind: 'dns', host: 'tasks.db', port: 9000, text: 'dns://tasks.db:9000' },
        ],
        dnsServers: ['127.0.0.1:5353', '[::1]:53'],
        secret: 's3cret',
        insecure: false,
        startAlone: true,
        joinTimeoutMs: 5000,
        writeConcern: 'all',
        writeTimeoutMs: 1500,
        pingIntervalMs: 100,
        pingTimeoutMs: 90,
        suspectAfterMs: 300,
        downAfterMs: 600,
        downPingIntervalMs: 700,
        forgetAfterMs: 6000,
        requestTimeoutMs: 800,
        batchSize: 10,
        batchDelayMs: 0,
        retryMaxMs: 900,
        outboxMax: 50,
        aeIntervalMs: 1000,
        tombstoneTtlMs: 60000,
        maxClockDriftMs: 0,
        maxBodyBytes: 4096,
      },
      security: { adminKey: undefined, rateLimit: 0, rateLimitSplit: false, tenantMaxKeys: 0, tenantMaxBytes: 0 },
      tls: { clients: undefined, mesh: undefined, enabled: false },
      ui: { intervalMs: 250, balancerUrl: 'http://lb:8081', balancerToken: 'token' },
      watch: { bufferEvents: 500, bufferBytes: 2 * 1024 * 1024, maxConnections: 7, heartbeatMs: 1000, queueEvents: 50 },
    });
    expect(Object.isFrozen(config.mesh)).to.equal(true);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({}))).to.equal(true);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '  ', NODE_ID: '' }).port).to.equal(DEFAULTS.PORT);
    expect(loadConfig({ DATA_SLOT: ' ' }).dataSlot).to.equal(undefined);
  });

  it('reads DATA_SLOT as auto or a slot number', () => {
    expect(loadConfig({ DATA_SLOT: '3' }).dataSlot).to.equal(3);
    expect(() => loadConfig({ DATA_SLOT: 'next' })).to.throw(ConfigError, /DATA_SLOT must be empty, "auto" or a slot number from 1 to 999999 \(got "next"\)/);
  });

  it('reports every problem at once, naming the variable and the allowed range', () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: '70000',
        MAX_KEY_LENGTH: '0',
        MAX_VALUE_LENGTH: '-1',
        LOG_LEVEL: 'loud',
        STORAGE: 'floppy',
        NODE_ID: 'has space',
        ADVERTISE_URL: 'ftp://x',
        HEADERS_TIMEOUT_MS: '1.5',
        GC_MODE: 'fast',
        DURABILITY: 'always',
        MESH_NETWORK_URL: 'db-2:9000,ftp://x',
        WRITE_CONCERN: 'most',
        SUSPECT_AFTER_MS: '5000',
        DOWN_AFTER_MS: '1000',
        DATA_SLOT: '0',
        UI_BALANCER_URL: 'lb:8081/stats',
        DNS_SERVERS: '127.0.0.1',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).to.have.length(16);
    expect(problems[0]).to.equal('PORT must be a whole number from 0 to 65535 (got "70000")');
    const text = problems.join('\n');
    for (const name of ['MAX_KEY_LENGTH', 'MAX_VALUE_LENGTH', 'LOG_LEVEL', 'STORAGE', 'NODE_ID', 'ADVERTISE_URL', 'HEADERS_TIMEOUT_MS', 'GC_MODE', 'DURABILITY', 'MESH_NETWORK_URL', 'WRITE_CONCERN', 'SUSPECT_AFTER_MS', 'DATA_SLOT', 'UI_BALANCER_URL', 'DNS_SERVERS']) {
      expect(text).to.contain(name);
    }
    expect((caught as ConfigError).message).to.match(/^Invalid configuration:\n {2}- PORT/);
  });

  it('refuses a request timeout shorter than the header timeout', () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '100' })).to.throw(
      ConfigError,
      /REQUEST_TIMEOUT_MS \(100\) must be at least HEADERS_TIMEOUT_MS \(500\)/,
    );
  });

  for (const bad of ['abc', '12abc', '0x10', '1e3', '']) {
    it(`refuses PORT="${bad}" unless blank`, () => {
      if (bad === '') expect(loadConfig({ PORT: bad }).port).to.equal(DEFAULTS.PORT);
      else expect(() => loadConfig({ PORT: bad })).to.throw(ConfigError, /PORT must be a whole number/);
    });
  }
});

describe('config with STORAGE=lmdb', () => {
  it("refuses keys longer than LMDB can store", () => {
    expect(() => loadConfig({ STORAGE: 'lmdb', MAX_KEY_LENGTH: '462' })).to.throw(ConfigError, /MAX_KEY_LENGTH must be at most 461 with STORAGE=lmdb/);
    expect(loadConfig({ STORAGE: 'lmdb', MAX_KEY_LENGTH: '461' }).maxKeyLength).to.equal(461);
  });
});

describe('config of API keys, rate limits and quotas', () => {
  const secret = 'k'.repeat(32);

  it('reads MESH_SECRET, or the first line of MESH_SECRET_FILE (a Docker or Kubernetes secret), never both', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-config-')), 'mesh-secret');
    fs.writeFileSync(file, 'from a file\nsecond line\n');
    try {
      expect(loadConfig({ MESH_SECRET_FILE: file }).mesh.secret).to.equal('from a file');
      expect(() => loadConfig({ MESH_SECRET: 'x', MESH_SECRET_FILE: file })).to.throw(ConfigError, /MESH_SECRET and MESH_SECRET_FILE are both set/);
      fs.writeFileSync(file, '\n');
      expect(loadConfig({ MESH_SECRET_FILE: file }).mesh.secret, 'an empty file: no secret').to.equal(undefined);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    expect(() => loadConfig({ MESH_SECRET_FILE: file })).to.throw(ConfigError, /MESH_SECRET_FILE names a file that cannot be read \(ENOENT\)/);
  });

  it('reads ADMIN_KEY, or the first line of ADMIN_KEY_FILE, never both', () => {
    expect(loadConfig({ ADMIN_KEY: secret }).security.adminKey).to.equal(secret);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-config-')), 'admin-key');
    fs.writeFileSync(file, `${secret}\n`);
    try {
      expect(loadConfig({ ADMIN_KEY_FILE: file }).security.adminKey).to.equal(secret);
      expect(() => loadConfig({ ADMIN_KEY: secret, ADMIN_KEY_FILE: file })).to.throw(ConfigError, /ADMIN_KEY and ADMIN_KEY_FILE are both set/);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    expect(() => loadConfig({ ADMIN_KEY_FILE: file })).to.throw(ConfigError, /ADMIN_KEY_FILE names a file that cannot be read \(ENOENT\)/);
  });

  it('refuses a short admin key without repeating it', () => {
    let caught: unknown;
    try {
      loadConfig({ ADMIN_KEY: 'short-key' });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    expect(String((caught as Error).message)).to.match(/ADMIN_KEY must be at least 16 characters without spaces \(got 9\)/).and.not.include('short-key');
  });

  it('reads the rate limit and the tenant quotas', () => {
    const { security } = loadConfig({ RATE_LIMIT: '50', RATE_LIMIT_SPLIT: 'true', TENANT_MAX_KEYS: '1000', TENANT_MAX_BYTES: '1048576' });
    expect(security).to.deep.equal({ adminKey: undefined, rateLimit: 50, rateLimitSplit: true, tenantMaxKeys: 1000, tenantMaxBytes: 1048576 });
    expect(() => loadConfig({ RATE_LIMIT: '-1' })).to.throw(ConfigError, /RATE_LIMIT must be a whole number/);
  });

  it('needs MESH_MAX_BODY_BYTES to hold one record of the longest key, with a tenant prefix, and one API key record', () => {
    expect(() => loadConfig({ MAX_KEY_LENGTH: '10', MAX_VALUE_LENGTH: '0', MESH_MAX_BODY_BYTES: '2048' })).to.throw(ConfigError, /MESH_MAX_BODY_BYTES \(2048\) must be at least 2560/);
    expect(() => loadConfig({ MAX_KEY_LENGTH: '64', MAX_VALUE_LENGTH: '1000', MESH_MAX_BODY_BYTES: '13000' })).to.throw(ConfigError, /must be at least 13676/);
  });
});

describe('.env.example', () => {
  it('lists every setting with its default', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', '..', '.env.example'), 'utf8');
    const listed = new Map<string, string>();
    for (const match of text.matchAll(/^(?:# )?([A-Z_]+)=(.*)$/gm)) listed.set(match[1] as string, match[2] as string);
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(listed.has(name), `${name} is missing from .env.example`).to.equal(true);
      expect(listed.get(name), name).to.equal(String(value));
    }
    for (const name of ['HOSTNAME', 'ADVERTISE_URL', 'NODE_ID', 'MESH_NETWORK_URL', 'MESH_SECRET']) {
      expect(listed.has(name), `${name} is missing from .env.example`).to.equal(true);
    }
  });
});
