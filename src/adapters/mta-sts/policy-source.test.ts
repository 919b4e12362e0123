/**
 * The policy source against a real DNS server and a real HTTPS policy host on loopback
 * (127.0.0.100:443), with certificates from a test CA.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createSecureContext, rootCertificates } from 'node:tls';
import { startDnsServer } from '../../../test/support/dns-zone-server.js';
import { createTestCa } from '../../../test/support/test-ca.js';
import { createResolveRecords } from '../smtp-out/dns-resolver.js';
import { createPolicySource, type PolicySource } from './policy-source.js';

const HOST = '127.0.0.100';
const POLICY =
  'version: STSv1\nmode: enforce\nmx: mx.good.test\nmx: *.good.test\nmax_age: 604800\n';

/** What each policy host does with a request. */
const behaviour: Record<string, (res: import('node:http').ServerResponse) => void> = {
  'good.test': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(POLICY),
  'badage.test': (res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end(POLICY.replace('604800', '86400.5')),
  'huge.test': (res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${POLICY}${'x'.repeat(70_000)}\n`),
  // One byte every 100 ms: never silent long enough for a socket timeout.
  'trickle.test': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('#'), 100);
    res.on('close', () => clearInterval(timer));
  },
};

describe('MTA-STS policy source', () => {
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let server: Server;
  let source: PolicySource;

  before(async () => {
    const ca = await createTestCa();
    const names = [...Object.keys(behaviour), 'wrongcert.test'];
    const cert = await ca.issue(Object.keys(behaviour).map((d) => `mta-sts.${d}`));
    server = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const domain = String(req.headers.host).replace(/^mta-sts\./, '');
      (behaviour[domain] ?? ((r) => r.writeHead(404).end()))(res);
    });
    await new Promise<void>((resolve) => server.listen(443, HOST, resolve));
    dns = await startDnsServer({
      ...Object.fromEntries(names.map((d) => [`mta-sts.${d}`, { A: [HOST] }])),
      '_mta-sts.good.test': { TXT: ['v=STSv1; id=20261130;'] },
      '_mta-sts.twice.test': { TXT: ['v=STSv1; id=a;', 'v=STSv1; id=b;'] },
      '_mta-sts.broken.test': { SERVFAIL: true },
    });
    source = createPolicySource({
      resolveRecords: createResolveRecords([dns.address], 1000),
      secureContext: createSecureContext({ ca: [...rootCertificates, ca.cert] }),
      blockLocalAddresses: false,
      timeoutMs: 1000,
    });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await dns.close();
  });

  it('reads the TXT id; two records, none, or no answer at all are told apart', async () => {
    assert.deepEqual(await source.txt('good.test'), { kind: 'id', id: '20261130' });
    assert.deepEqual(await source.txt('twice.test'), { kind: 'none' });
    assert.deepEqual(await source.txt('nothing.test'), { kind: 'none' });
    assert.deepEqual(await source.txt('broken.test'), { kind: 'failed' });
  });

  it('fetches and parses a policy over HTTPS', async () => {
    assert.deepEqual(await source.fetch('good.test'), {
      mode: 'enforce',
      mx: ['mx.good.test', '*.good.test'],
      maxAgeSeconds: 604800,
    });
  });

  it('refuses a policy that is not valid, too big, slow to come, or from a host with the wrong certificate', async () => {
    await assert.rejects(source.fetch('badage.test'), /not valid/);
    await assert.rejects(source.fetch('huge.test'), /over 65536 bytes/);
    await assert.rejects(source.fetch('trickle.test'), /did not send the policy in time/);
    await assert.rejects(source.fetch('wrongcert.test'), /altnames/);
  });
});
