/**
 * MTA-STS (RFC 8461) on the way out: recipient domains publish a `_mta-sts` TXT record on a
 * real DNS server on loopback and their policy on a real HTTPS server (127.0.0.96:443) with
 * a certificate from a test CA the relay is told to trust (`delivery.caFiles`); their MX
 * hosts are smart sinks with certificates from the same CA, each on its own address.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mtaStsStream } from '../src/domain/mta-sts/policy.js';
import { startDnsServer, type Zone } from './support/dns-zone-server.js';
import { firstOutcome, streamEvents } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { createTestCa } from './support/test-ca.js';

type Outcome = {
  recipient: string;
  reply: { code: number; enhancedCode: string | null; text: string };
  remote: { mx: string | null; ip: string | null; tls: boolean };
};

const POLICY_HOST = '127.0.0.96';

/** Policies by domain, as `mta-sts.<domain>` serves them; a test may change them. */
const policies: Record<string, string> = {
  'sts.test': 'version: STSv1\nmode: enforce\nmx: *.sts.test\nmax_age: 86400\n',
  'wrongname.test': 'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmax_age: 86400\n',
  'fallback.test':
    'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmx: mx.sts.test\nmax_age: 86400\n',
  'notls.test': 'version: STSv1\nmode: enforce\nmx: mx.notls.test\nmax_age: 86400\n',
  'unlisted.test': 'version: STSv1\nmode: enforce\nmx: *.unlisted.test\nmax_age: 86400\n',
  'testing.test': 'version: STSv1\nmode: testing\nmx: mx.wrongname.test\nmax_age: 86400\n',
  'routed.test': 'version: STSv1\nmode: enforce\nmx: mx.routed.test\nmax_age: 86400\n',
  'shared.test': 'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmax_age: 86400\n',
  'html.test': 'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmax_age: 86400\n',
  'moved.test': 'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmax_age: 86400\n',
  'servfail.test': 'version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n',
  'nullmx.test': 'version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n',
  'narrow.test': 'version: STSv1\nmode: enforce\nmx: mx.narrow.test\nmax_age: 86400\n',
};
/** How the policy host answers for these, instead of 200 text/plain (RFC 8461 §3.3). */
const misserved: Record<string, { status: number; headers: Record<string, string> }> = {
  'html.test': { status: 200, headers: { 'content-type': 'text/html' } },
  'moved.test': {
    status: 302,
    headers: { location: 'https://mta-sts.sts.test/.well-known/mta-sts.txt' },
  },
};
const STS_DOMAINS = Object.keys(policies);

describe('MTA-STS policies of recipient domains', () => {
  let relay: TestRelay;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let policyServer: Server;
  const fetches: string[] = [];
  let valid: Sink; // 127.0.0.93: certificate for mx.sts.test
  let wrongName: Sink; // 127.0.0.94: certificate for another name
  let clear: Sink; // 127.0.0.95: no STARTTLS
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-mta-sts-'));
  // The first relay's folder, whose data a restarted relay goes on with.
  const relayDirs: string[] = [];
  const caFile = join(dir, 'ca.pem');

  const zone: Zone = {
    'sts.test': { MX: [{ exchange: 'mx.sts.test', priority: 10 }] },
    'mx.sts.test': { A: ['127.0.0.93'] },
    'wrongname.test': { MX: [{ exchange: 'mx.wrongname.test', priority: 10 }] },
    'mx.wrongname.test': { A: ['127.0.0.94'] },
    'fallback.test': {
      MX: [
        { exchange: 'mx.wrongname.test', priority: 10 },
        { exchange: 'mx.sts.test', priority: 20 },
      ],
    },
    'notls.test': { MX: [{ exchange: 'mx.notls.test', priority: 10 }] },
    'mx.notls.test': { A: ['127.0.0.95'] },
    // One label too deep for `*.unlisted.test` (RFC 8461 §4.1).
    'unlisted.test': { MX: [{ exchange: 'a.mx.unlisted.test', priority: 10 }] },
    'a.mx.unlisted.test': { A: ['127.0.0.93'] },
    'testing.test': { MX: [{ exchange: 'mx.wrongname.test', priority: 10 }] },
    'plain.test': { MX: [{ exchange: 'mx.notls.test', priority: 10 }] },
    // The same MX as testing.test: the same site, whose connections are pooled.
    'shared.test': { MX: [{ exchange: 'mx.wrongname.test', priority: 10 }] },
    'html.test': { MX: [{ exchange: 'mx.wrongname.test', priority: 10 }] },
    'moved.test': { MX: [{ exchange: 'mx.wrongname.test', priority: 10 }] },
    'servfail.test': { SERVFAIL: true },
    'nullmx.test': { MX: [{ exchange: '', priority: 0 }] },
    // The same MX as sts.test, which its policy does not name.
    'narrow.test': { MX: [{ exchange: 'mx.sts.test', priority: 10 }] },
  };
  for (const domain of [...STS_DOMAINS, 'trickle.test']) {
    zone[`_mta-sts.${domain}`] = { TXT: ['v=STSv1; id=20261130a;'] };
    zone[`mta-sts.${domain}`] = { A: [POLICY_HOST] };
  }

  before(async () => {
    const ca = await createTestCa();
    writeFileSync(caFile, ca.cert);
    const [mxCert, otherCert, policyCert] = await Promise.all([
      ca.issue(['mx.sts.test']),
      ca.issue(['some-other-host.test']),
      ca.issue([...STS_DOMAINS, 'trickle.test'].map((d) => `mta-sts.${d}`)),
    ]);
    valid = await startSink('127.0.0.93', { tls: mxCert });
    const port = valid.port;
    wrongName = await startSink('127.0.0.94', { tls: otherCert }, port);
    clear = await startSink('127.0.0.95', {}, port);
    policyServer = createServer({ key: policyCert.key, cert: policyCert.cert }, (req, res) => {
      const domain = String(req.headers.host).replace(/^mta-sts\./, '');
      fetches.push(domain);
      if (domain === 'trickle.test') {
        // A byte now and then: never silent long enough for a socket timeout.
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('#'), 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      const body = policies[domain];
      if (req.url !== '/.well-known/mta-sts.txt' || !body) {
        res.statusCode = 404;
        return res.end();
      }
      const odd = misserved[domain];
      res.writeHead(odd?.status ?? 200, odd?.headers ?? { 'content-type': 'text/plain' });
      res.end(body);
    });
    await new Promise<void>((resolve) => policyServer.listen(443, POLICY_HOST, resolve));
    dns = await startDnsServer(zone);
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      dns: { servers: [dns.address], timeout: '1s' },
      delivery: { port, connectTimeout: '5s', caFiles: [caFile] },
      routes: { 'routed.test': `[127.0.0.95]:${port}` },
      queue: { retry: ['1h'] },
    });
  });
  after(async () => {
    await relay?.cleanup();
    for (const d of relayDirs) rmSync(d, { recursive: true, force: true });
    await Promise.all([valid.close(), wrongName.close(), clear.close(), dns.close()]);
    await new Promise((resolve) => policyServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const outcomeOf = async (id: string) => {
    const e = await firstOutcome(relay.store, id);
    return { type: e.type, ...(e.data as Outcome) };
  };
  const received = (sink: Sink, to: string) => sink.transactions.some((t) => t.to.includes(to));

  it('enforce: delivered over TLS to the MX the policy names, its certificate checked', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['ann@sts.test']));
    assert.equal(outcome.type, 'MessageDelivered', outcome.reply.text);
    assert.deepEqual([outcome.remote.mx, outcome.remote.tls], ['mx.sts.test', true]);
    assert.ok(valid.transactions.some((t) => t.to.includes('ann@sts.test') && t.tls));
  });

  it('enforce: a certificate not valid for the MX name is refused, 451 4.7.5, nothing sent', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['bob@wrongname.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [451, '4.7.5']);
    assert.match(outcome.reply.text, /certificate of mx\.wrongname\.test.*MTA-STS/);
    assert.equal(received(wrongName, 'bob@wrongname.test'), false);
  });

  it('enforce: a host that fails the check is passed over for the next MX', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['cy@fallback.test']));
    assert.equal(outcome.type, 'MessageDelivered', outcome.reply.text);
    assert.equal(outcome.remote.mx, 'mx.sts.test');
    assert.equal(received(wrongName, 'cy@fallback.test'), false);
  });

  it('enforce: an MX without STARTTLS gets nothing in clear, 451 4.7.10', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['dee@notls.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [451, '4.7.10']);
    assert.equal(received(clear, 'dee@notls.test'), false);
  });

  it('enforce: an MX the policy does not name is never connected to, 451 4.4.4', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['eve@unlisted.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [451, '4.4.4']);
    assert.match(outcome.reply.text, /MTA-STS policy of unlisted\.test.*a\.mx\.unlisted\.test/);
    assert.equal(received(valid, 'eve@unlisted.test'), false);
  });

  it('enforce: an MX lookup that fails is a deferral like any failed lookup, 451 4.4.3', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['pia@servfail.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [451, '4.4.3']);
    assert.ok(fetches.includes('servfail.test'), 'under its policy');
  });

  it('enforce: a null MX bounces as it would without a policy (RFC 7505)', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['quin@nullmx.test']));
    assert.equal(outcome.type, 'MessageBounced');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [556, '5.1.10']);
  });

  it('enforce: a verified connection goes on carrying the domain’s mail, but not for a policy that does not name its host', async () => {
    const sessions = [];
    for (const to of ['rae@sts.test', 'sol@sts.test']) {
      const outcome = await outcomeOf(await submit(relay.smtpPort, [to]));
      assert.equal(outcome.type, 'MessageDelivered');
      sessions.push(valid.transactions.find((t) => t.to.includes(to))?.session);
    }
    assert.equal(sessions[0], sessions[1], 'one connection for both');
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['tom@narrow.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.equal(outcome.reply.enhancedCode, '4.4.4');
    assert.equal(received(valid, 'tom@narrow.test'), false);
  });

  it('testing mode and domains without a policy keep opportunistic TLS', async () => {
    const testing = await outcomeOf(await submit(relay.smtpPort, ['fay@testing.test']));
    assert.equal(testing.type, 'MessageDelivered', testing.reply.text);
    assert.ok(received(wrongName, 'fay@testing.test'));
    const plain = await outcomeOf(await submit(relay.smtpPort, ['gus@plain.test']));
    assert.equal(plain.type, 'MessageDelivered', plain.reply.text);
    assert.equal(plain.remote.tls, false);
  });

  it('a policy served as HTML or behind a redirect is no policy', async () => {
    for (const to of ['ned@html.test', 'oli@moved.test']) {
      const outcome = await outcomeOf(await submit(relay.smtpPort, [to]));
      assert.equal(outcome.type, 'MessageDelivered', `${to}: ${outcome.reply.text}`);
    }
    assert.ok(fetches.includes('html.test') && fetches.includes('moved.test'), 'both fetched');
  });

  it('a connection another domain left open unverified is not reused under enforce', async () => {
    const testing = await outcomeOf(await submit(relay.smtpPort, ['lou@testing.test']));
    assert.equal(testing.type, 'MessageDelivered', testing.reply.text);
    // Sent while that connection is idle in the pool (delivery.idleTimeout is 2 s here).
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['max@shared.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.equal(outcome.reply.enhancedCode, '4.7.5');
    assert.equal(received(wrongName, 'max@shared.test'), false);
  });

  it('a routed domain goes by its route: its policy is not even fetched', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['hal@routed.test']));
    assert.equal(outcome.type, 'MessageDelivered', outcome.reply.text);
    assert.ok(received(clear, 'hal@routed.test'));
    assert.equal(fetches.includes('routed.test'), false);
  });

  it('a policy is fetched once and recorded in the log, not at every message', async () => {
    for (const to of ['ida@sts.test', 'jon@sts.test']) {
      const outcome = await outcomeOf(await submit(relay.smtpPort, [to]));
      assert.equal(outcome.type, 'MessageDelivered');
    }
    assert.equal(fetches.filter((d) => d === 'sts.test').length, 1);
    const recorded = await streamEvents(relay.store, mtaStsStream('sts.test'));
    assert.deepEqual(
      recorded.map((e) => [e.type, (e.data as { mode: string; id: string }).mode]),
      [['MtaStsPolicyFetched', 'enforce']],
    );
  });

  it('a stop does not wait for a policy host that trickles', { timeout: 60_000 }, async () => {
    // Its deadline is the connect timeout, ten minutes here: only abandoning it ends it.
    const slow = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      dns: { servers: [dns.address], timeout: '1s' },
      delivery: { port: valid.port, connectTimeout: '10m', stopGrace: '300ms', caFiles: [caFile] },
    });
    relayDirs.push(slow.dir);
    await submit(slow.smtpPort, ['uma@trickle.test']);
    await waitFor(() => fetches.includes('trickle.test'), 'the policy fetch under way');
    await slow.stop();
  });

  it('after a restart, a recorded policy holds though its TXT record and host are gone', async () => {
    const dataDir = relay.config.dataDir;
    const port = valid.port;
    await relay.stop();
    relayDirs.push(relay.dir);
    delete zone['_mta-sts.wrongname.test'];
    delete policies['wrongname.test'];
    relay = await startTestRelay({
      dataDir,
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      dns: { servers: [dns.address], timeout: '1s' },
      delivery: { port, connectTimeout: '5s', caFiles: [caFile] },
      queue: { retry: ['1h'] },
    });
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['kim@wrongname.test']));
    assert.equal(outcome.type, 'DeliveryDeferred', 'not delivered to the impostor');
    assert.equal(outcome.reply.enhancedCode, '4.7.5');
    assert.equal(received(wrongName, 'kim@wrongname.test'), false);
  });
});
