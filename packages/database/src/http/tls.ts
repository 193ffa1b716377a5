import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import type { PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';

/** Files of a certificate (chain), its key, and CAs (PEM), as given in the settings. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** CAs whose certificates clients (or peers) may present. */
  readonly caFiles: readonly string[];
}

/** What was read from the files: the server's secure context, and the SHA-256 fingerprints of the CAs. */
export interface TlsMaterial {
  readonly context: SecureContextOptions;
  readonly caFingerprints: ReadonlySet<string>;
}

/** ms between two looks at the files' times (fs.watchFile; a rename into place is seen too). */
const WATCH_INTERVAL_MS = 2000;

/**
 * A certificate, its key and CAs read from files, and read again on `reload()` (SIGHUP) or
 * when a file changes: the listeners get the new material, and a server given it
 * (setSecureContext) uses it for new connections while the open ones go on. A reload that
 * cannot read or parse the files keeps the material in use and reports why.
 */
export class TlsSource {
  private current: TlsMaterial;
  private readonly listeners: ((material: TlsMaterial) => void)[] = [];
  private watching = false;

  constructor(
    private readonly files: TlsFiles,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    this.current = readMaterial(files);
  }

  get material(): TlsMaterial {
    return this.current;
  }

  onReload(listener: (material: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the files again; true when they were read and the listeners told. */
  reload(): boolean {
    let material: TlsMaterial;
    try {
      material = readMaterial(this.files);
    } catch (error) {
      this.onError(error as Error);
      return false;
    }
    this.current = material;
    for (const listener of this.listeners) listener(material);
    return true;
  }

  /** Reloads when a file's modification time changes. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    for (const file of this.paths()) {
      fs.watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) this.reload();
      });
    }
  }

  stop(): void {
    if (!this.watching) return;
    this.watching = false;
    for (const file of this.paths()) fs.unwatchFile(file);
  }

  private paths(): string[] {
    return [...new Set([this.files.certFile, this.files.keyFile, ...this.files.caFiles])];
  }
}

function readMaterial(files: TlsFiles): TlsMaterial {
  const cert = fs.readFileSync(files.certFile);
  const key = fs.readFileSync(files.keyFile);
  const cas = files.caFiles.map((file) => fs.readFileSync(file));
  // Parsed here so that a damaged file is an error now, not a failed handshake later.
  new X509Certificate(cert);
  const caFingerprints = new Set(cas.flatMap((pem) => splitPem(pem).map((one) => new X509Certificate(one).fingerprint256)));
  return { context: { cert, key, ...(cas.length === 0 ? {} : { ca: cas }) }, caFingerprints };
}

/** The certificates of a PEM bundle, one by one. */
function splitPem(pem: Buffer): string[] {
  return pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * True when the client of a TLS connection presented a certificate that verifies against
 * the server's CAs and that one of `fingerprints` (CAs) issued, directly or through its chain.
 */
export function presentedBy(socket: TLSSocket, fingerprints: ReadonlySet<string>): boolean {
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return false;
  let cert: PeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert !== undefined && cert.fingerprint256 !== undefined && !seen.has(cert.fingerprint256)) {
    if (fingerprints.has(cert.fingerprint256)) return true;
    seen.add(cert.fingerprint256);
    cert = (cert as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return false;
}
