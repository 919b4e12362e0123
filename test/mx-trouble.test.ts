/**
 * Receiving hosts that connect but will not do the job: a 421 greeting sends the mail to the
 * next MX (and, with none left, the server's own 421 is the outcome, named for its host); a
 * TLS handshake that fails under the opportunistic policy is retried in clear. MX records
 * come from a real DNS server on loopback; raw MXes play what smtp-server will not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDnsServer } from './support/dns-zone-server.js';
import { firstOutcome } from './support/fixtures.js';
import { type RawMx, startRawMx } from './support/raw-mx.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
} from './support/relay-harness.js';

type Outcome = {
  recipient: string;
  reply: { code: number; enhancedCode: string | null; text: string };
  remote: { mx: string | null; ip: string | null; tls: boolean };
};

describe('MX hosts that will not do the job', () => {
  let relay: TestRelay;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let good: Sink; // 127.0.0.91
  let busy: RawMx; // 127.0.0.90: 421 at the greeting
  let badTls: RawMx; // 127.0.0.92: offers STARTTLS, then fails the handshake
  let mute: RawMx; // 127.0.0.97: takes the connection and hangs up without a word
  let closing: RawMx; // 127.0.0.98: greets, then answers EHLO with 421 and hangs up
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-mx-trouble-'));

  before(async () => {
    good = await startSink('127.0.0.91');
    // Every MX on the relay's one delivery port, each on its own address.
    const port = good.port;
    busy = await startRawMx('127.0.0.90', [], { port, refusal: '421 4.3.2 mx1 busy, try later' });
    badTls = await startRawMx('127.0.0.92', ['PIPELINING'], { port, brokenTls: true });
    mute = await startRawMx('127.0.0.97', [], { port, hangUp: true });
    closing = await startRawMx('127.0.0.98', [], {
      port,
      ehloRefusal: '421 4.3.2 mx.closing.test shutting down',
    });
    dns = await startDnsServer({
      'busy.test': {
        MX: [
          { exchange: 'mx1.busy.test', priority: 10 },
          { exchange: 'mx2.busy.test', priority: 20 },
        ],
      },
      'mx1.busy.test': { A: ['127.0.0.90'] },
      'mx2.busy.test': { A: ['127.0.0.91'] },
      'only-busy.test': { MX: [{ exchange: 'mx1.busy.test', priority: 10 }] },
      // An MX named by its address: mx-connect looks nothing up for it.
      'ip-mx.test': { MX: [{ exchange: '127.0.0.90', priority: 10 }] },
      'badtls.test': { MX: [{ exchange: 'mx.badtls.test', priority: 10 }] },
      'mx.badtls.test': { A: ['127.0.0.92'] },
      'strict-badtls.test': { MX: [{ exchange: 'mx.badtls.test', priority: 10 }] },
      'mute.test': {
        MX: [
          { exchange: 'mx1.mute.test', priority: 10 },
          { exchange: 'mx2.busy.test', priority: 20 },
        ],
      },
      'mx1.mute.test': { A: ['127.0.0.97'] },
      'closing.test': {
        MX: [
          { exchange: 'mx.closing.test', priority: 10 },
          { exchange: 'mx2.busy.test', priority: 20 },
        ],
      },
      'mx.closing.test': { A: ['127.0.0.98'] },
      'only-troubled.test': {
        MX: [
          { exchange: 'mx1.mute.test', priority: 10 },
          { exchange: 'mx.closing.test', priority: 20 },
        ],
      },
    });
    const shaping = join(dir, 'shaping.yaml');
    writeFileSync(shaping, 'domains:\n  strict-badtls.test: { tls: required }\n');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      dns: { servers: [dns.address], timeout: '1s' },
      delivery: { port, connectTimeout: '5s' },
      queue: { retry: ['1h'] },
      shaping: { files: [shaping] },
    });
  });
  after(async () => {
    await relay.cleanup();
    await Promise.all([
      good.close(),
      busy.close(),
      badTls.close(),
      mute.close(),
      closing.close(),
      dns.close(),
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  const outcomeOf = (id: string) => firstOutcome(relay.store, id);

  it('a 421 greeting sends the mail to the next MX at once', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['ann@busy.test']));
    assert.equal(outcome.type, 'MessageDelivered');
    assert.equal((outcome.data as Outcome).remote.ip, '127.0.0.91');
    assert.ok(good.transactions.some((t) => t.to.includes('ann@busy.test')));
  });

  it('a host that hangs up unspoken, or refuses EHLO with 421, is passed over for the next MX', async () => {
    for (const to of ['fin@mute.test', 'gil@closing.test']) {
      const outcome = await outcomeOf(await submit(relay.smtpPort, [to]));
      assert.equal(outcome.type, 'MessageDelivered', to);
      assert.equal((outcome.data as Outcome).remote.ip, '127.0.0.91');
    }
    assert.ok(
      closing.commands.some((c) => /^EHLO/i.test(c)),
      'it did greet and hear EHLO',
    );
  });

  it('with every host troubled, the one that put it in words is the outcome', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['hew@only-troubled.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    const { reply, remote } = outcome.data as Outcome;
    assert.deepEqual([reply.code, reply.enhancedCode], [421, '4.3.2']);
    assert.match(reply.text, /shutting down/);
    assert.deepEqual([remote.mx, remote.ip], ['mx.closing.test', '127.0.0.98']);
  });

  it("with no other MX, the server's own 421 is the outcome, and names its host", async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['bob@only-busy.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    const { reply, remote } = outcome.data as Outcome;
    assert.deepEqual([reply.code, reply.enhancedCode], [421, '4.3.2']);
    assert.match(reply.text, /mx1 busy/);
    assert.deepEqual([remote.mx, remote.ip], ['mx1.busy.test', '127.0.0.90']);
  });

  it('an MX named by its address that refuses is not tried again and again', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['eve@ip-mx.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.equal((outcome.data as Outcome).reply.code, 421);
  });

  it('a TLS handshake that fails is tried again in clear under the opportunistic policy', async () => {
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['cy@badtls.test']));
    assert.equal(outcome.type, 'MessageDelivered');
    assert.equal((outcome.data as Outcome).remote.tls, false);
    assert.equal(badTls.messages(), 1);
    assert.ok(badTls.commands.includes('STARTTLS'), 'it did try TLS first');
  });

  it('under tls: required, a failed handshake is never tried in clear: deferred 4.7.10', async () => {
    const before = badTls.messages();
    const outcome = await outcomeOf(await submit(relay.smtpPort, ['dee@strict-badtls.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    const { reply } = outcome.data as Outcome;
    assert.deepEqual([reply.code, reply.enhancedCode], [451, '4.7.10']);
    assert.equal(badTls.messages(), before, 'nothing sent in clear');
  });
});
