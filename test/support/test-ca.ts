import { isIP } from 'node:net';
import selfsigned from 'selfsigned';

export interface TestCa {
  /** The CA's certificate, PEM: what a relay is told to trust. */
  readonly cert: string;
  /** A key and certificate for these names (or addresses), signed by the CA. */
  issue(names: readonly string[]): Promise<{ readonly key: string; readonly cert: string }>;
}

const inTwoYears = (): Date => {
  const at = new Date();
  at.setFullYear(at.getFullYear() + 2);
  return at;
};

/**
 * A private certificate authority for tests of certificate checks: hosts on loopback get
 * certificates for the names the test's DNS gives them, which a relay trusts only through
 * `delivery.caFiles`.
 */
export const createTestCa = async (): Promise<TestCa> => {
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'mailtrail test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: inTwoYears(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return {
    cert: ca.cert,
    issue: async (names) => {
      const leaf = await selfsigned.generate([{ name: 'commonName', value: names[0] ?? 'host' }], {
        keySize: 2048,
        algorithm: 'sha256',
        notAfterDate: inTwoYears(),
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          {
            name: 'subjectAltName',
            altNames: names.map((name) =>
              isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
            ),
          },
        ],
      });
      return { key: leaf.private, cert: leaf.cert };
    },
  };
};
