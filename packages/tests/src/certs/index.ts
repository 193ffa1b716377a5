#!/usr/bin/env node
// Makes a local certificate authority and certificates for trying MeshKV with TLS:
// `npm run certs -- [DIR] [--name HOST]... [--days N] [--readable]` (default DIR: certs,
// 825 days; --readable: keys readable by other users, for containers). Not for production: a
// real deployment takes its certificates from its own CA (docs/security.md).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';

/** The files made, by role. */
export interface CertificateSet {
  readonly dir: string;
  /** Signs the certificates clients trust (TLS_CERT_FILE's) and the client certificates (TLS_CA_FILE). */
  readonly ca: string;
  readonly nodeCert: string;
  readonly nodeKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA of its own for the mesh (MESH_TLS_CA_FILE), and the nodes' certificate from it. */
  readonly meshCa: string;
  readonly meshCert: string;
  readonly meshKey: string;
}

export interface CertificateOptions {
  /** Host names and addresses the node certificate is valid for, beside localhost, 127.0.0.1 and ::1. */
  readonly names?: readonly string[];
  readonly days?: number;
  /** Keys readable by every user (0644): for containers whose user is not the files' owner. */
  readonly readableKeys?: boolean;
}

interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

const DEFAULT_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Makes every file in `dir` (created if missing; files there are replaced). */
export function makeCertificates(dir: string, options: CertificateOptions = {}): CertificateSet {
  fs.mkdirSync(dir, { recursive: true });
  // A container's user must be able to enter the folder too (mkdtemp makes it 0700).
  if (options.readableKeys === true) fs.chmodSync(dir, 0o755);
  const days = options.days ?? 825;
  const names = [...new Set([...DEFAULT_NAMES, ...(options.names ?? [])])];
  const ca = issue({ name: 'MeshKV local CA', days, ca: true });
  const meshCa = issue({ name: 'MeshKV local mesh CA', days, ca: true });
  const node = issue({ name: 'MeshKV node', days, names, issuer: ca, usage: ['serverAuth', 'clientAuth'] });
  const client = issue({ name: 'MeshKV client', days, issuer: ca, usage: ['clientAuth'] });
  const mesh = issue({ name: 'MeshKV mesh node', days, names, issuer: meshCa, usage: ['serverAuth', 'clientAuth'] });
  const file = (name: string, text: string, secret = false): string => {
    const target = path.join(dir, name);
    fs.writeFileSync(target, text);
    // Keys are for their owner only, unless a container's user (another uid) must read them.
    fs.chmodSync(target, secret && options.readableKeys !== true ? 0o600 : 0o644);
    return target;
  };
  const pem = (issued: Issued): string => forge.pki.certificateToPem(issued.cert);
  const keyPem = (issued: Issued): string => forge.pki.privateKeyToPem(issued.key);
  return {
    dir,
    ca: file('ca.pem', pem(ca)),
    nodeCert: file('node.pem', pem(node)),
    nodeKey: file('node-key.pem', keyPem(node), true),
    clientCert: file('client.pem', pem(client)),
    clientKey: file('client-key.pem', keyPem(client), true),
    meshCa: file('mesh-ca.pem', pem(meshCa)),
    meshCert: file('mesh-node.pem', pem(mesh)),
    meshKey: file('mesh-node-key.pem', keyPem(mesh), true),
  };
}

/** One certificate: a CA's (self-signed unless `issuer`), or one for `names`, signed by `issuer`. */
function issue(spec: { name: string; days: number; ca?: boolean; names?: readonly string[]; issuer?: Issued; usage?: readonly ('serverAuth' | 'clientAuth')[] }): Issued {
  // Node makes the key (native, fast); forge writes the certificate.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // A positive serial of 16 random bytes.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + spec.days * 86_400_000);
  const subject = [{ name: 'commonName', value: spec.name }, { name: 'organizationName', value: 'MeshKV local' }];
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer === undefined ? subject : spec.issuer.cert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.ca === true, critical: true },
    { name: 'keyUsage', critical: true, ...(spec.ca === true ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, keyEncipherment: true }) },
    { name: 'subjectKeyIdentifier' },
  ];
  if (spec.usage !== undefined) extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(spec.usage.map((usage) => [usage, true])) });
  if (spec.names !== undefined) {
    extensions.push({ name: 'subjectAltName', altNames: spec.names.map((name) => (/^[\d.]+$|:/.test(name) ? { type: 7, ip: name } : { type: 2, value: name })) });
  }
  if (spec.issuer !== undefined) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: spec.issuer.cert.generateSubjectKeyIdentifier().getBytes() });
  cert.setExtensions(extensions);
  cert.sign(spec.issuer?.key ?? key, forge.md.sha256.create());
  return { cert, key };
}

function main(argv: readonly string[]): void {
  let dir = 'certs';
  let days: number | undefined;
  let readableKeys = false;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--name') names.push(argv[++i] ?? '');
    else if (arg === '--days') days = Number(argv[++i]);
    else if (arg === '--readable') readableKeys = true;
    else if (!arg.startsWith('--')) dir = arg;
    else throw new Error(`unknown argument "${arg}" (takes [DIR] [--name HOST]... [--days N] [--readable])`);
  }
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 36_500)) throw new Error('--days takes a whole number of days from 1 to 36500');
  const set = makeCertificates(path.resolve(dir), { names, readableKeys, ...(days === undefined ? {} : { days }) });
  const rel = (file: string): string => {
    const relative = path.relative(process.cwd(), file);
    return relative === '' || relative.startsWith('..') ? file : relative;
  };
  process.stdout.write(
    [
      `certificates written to ${rel(set.dir)} (a local CA: for trying TLS, not for production)`,
      '',
      'HTTPS for clients:      TLS_CERT_FILE=' + rel(set.nodeCert) + ' TLS_KEY_FILE=' + rel(set.nodeKey),
      '  and client certificates: TLS_CA_FILE=' + rel(set.ca),
      'TLS between the nodes:  MESH_TLS_CERT_FILE=' + rel(set.meshCert) + ' MESH_TLS_KEY_FILE=' + rel(set.meshKey) + ' MESH_TLS_CA_FILE=' + rel(set.meshCa),
      'curl:                   curl --cacert ' + rel(set.ca) + ' https://127.0.0.1:8080/healthcheck',
      'tests and stress tool:  SERVICE_URL=https://127.0.0.1:8080 SERVICE_CA_FILE=' + rel(set.ca),
      '',
    ].join('\n'),
  );
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`certs: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
