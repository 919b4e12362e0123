import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsFiles {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly generated: boolean;
}

/**
 * The listener's certificate: the configured PEM files, or a self-signed one generated
 * once under `dir` (so STARTTLS works out of the box; replace it for production).
 */
export const loadOrCreateTls = async (
  configured: { key?: string | undefined; cert?: string | undefined },
  dir: string,
  hostname: string,
): Promise<TlsFiles> => {
  if (configured.key && configured.cert)
    return {
      key: readFileSync(configured.key),
      cert: readFileSync(configured.cert),
      generated: false,
    };
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  if (existsSync(keyPath) && existsSync(certPath))
    return { key: readFileSync(keyPath), cert: readFileSync(certPath), generated: false };
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 2);
  // Loaded on first run only: its X.509 stack costs every start about 0.25 s.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { key: Buffer.from(pems.private), cert: Buffer.from(pems.cert), generated: true };
};
