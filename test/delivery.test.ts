/**
 * Delivery end to end: mail submitted over SMTP, MX hosts found through a real DNS server
 * on loopback, smart sinks on several 127.0.0.x addresses playing the receiving MXes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateTls } from '../src/adapters/tls/self-signed.js';
import { handleCommand } from '../src/domain/command-handling/handle-command.js';
import { messageDecider } from '../src/domain/message/decider.js';
import {
  type MessageEvent,
  messageStream,
  NO_SUBMISSION_OPTIONS,
} from '../src/domain/message/events.js';
import { inspectLineEndings, isClean } from '../src/domain/message-body/line-endings.js';
import { accountingProjection, acctRecords } from '../src/projections/accounting/accounting.js';
import { catchUpProjection } from '../src/projections/runner/run-projection.js';
import { startDnsServer } from './support/dns-zone-server.js';
import { streamEvents } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit as submitMessage,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';

type Outcome = Extract<
  MessageEvent,
  { type: 'DeliveryDeferred' | 'MessageDelivered' | 'MessageBounced' }
>;

describe('delivery to the recipients MX hosts', () => {
  let relay: TestRelay;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let mx2: Sink; // 127.0.0.2: STARTTLS with a self-signed certificate
  let mx3: Sink; // 127.0.0.3: plaintext
  let routed: Sink; // 127.0.0.5, any port: reached only through a route
  const saveDir = mkdtempSync(join(tmpdir(), 'mailtrail-sink-'));

  before(async () => {
    const tls = await loadOrCreateTls({}, join(saveDir, 'tls'), 'mx.sink.test');
    mx2 = await startSink('127.0.0.2', { tls, saveDir: join(saveDir, 'mx2') });
    mx3 = await startSink('127.0.0.3');
    // Every MX listens on the relay's one delivery port, on its own address.
    const port = mx2.port;
    await mx3.close();
    mx3 = await (async () => {
      const transactions: Sink['transactions'] = [];
      const { createSmartSink } = await import('../src/apps/sink/smart-sink.js');
      const sink = createSmartSink({ onTransaction: (t) => transactions.push(t) });
      await sink.listen(port, '127.0.0.3');
      return {
        port,
        transactions,
        peakConnections: sink.peakConnections,
        close: () => sink.close(),
      };
    })();
    routed = await startSink('127.0.0.5');
    dns = await startDnsServer({
      // First MX refuses connections (nothing on 127.0.0.4); the second takes the mail.
      'fallback.test': {
        MX: [
          { exchange: 'mx1.fallback.test', priority: 10 },
          { exchange: 'mx2.fallback.test', priority: 20 },
        ],
      },
      'mx1.fallback.test': { A: ['127.0.0.4'] },
      'mx2.fallback.test': { A: ['127.0.0.2'] },
      // No MX at all: the domain's own address (RFC 5321 §5.1).
      'a-only.test': { A: ['127.0.0.3'] },
      'nullmx.test': { MX: [{ exchange: '', priority: 0 }] },
      'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] },
      'mx.sink.test': { A: ['127.0.0.2'] },
    });
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      dns: { servers: [dns.address], timeout: '1s' },
      routes: { 'routed.test': `[127.0.0.5]:${routed.port}` },
      // Idle connections stay open between messages: the reuse test then does not depend on
      // how soon one message follows another.
      delivery: { port, connectTimeout: '2s', idleTimeout: '1m' },
      queue: { retry: ['1s'], retryJitter: 0, maxAge: '4s' },
    });
  });
  after(async () => {
    await relay.cleanup();
    await Promise.all([mx2.close(), mx3.close(), routed.close(), dns.close()]);
  });

  const submit = (to: string[]) => submitMessage(relay.smtpPort, to);

  const outcomes = async (messageId: string): Promise<Outcome[]> =>
    (await streamEvents(relay.store, messageStream(messageId))).filter(
      (e) => e.type !== 'MessageAccepted',
    ) as unknown as Outcome[];

  /** Waits until every recipient of the message is delivered or bounced. */
  const settled = async (messageId: string, recipients: number, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const final = (await outcomes(messageId)).filter((e) => e.type !== 'DeliveryDeferred');
        return final.length >= recipients && final;
      },
      `message ${messageId} to settle`,
      timeoutMs,
    );

  it('follows MX preference and falls back to the next MX when the first refuses', async () => {
    const id = await submit(['user@fallback.test']);
    const [outcome] = await settled(id, 1);
    assert.equal(outcome?.type, 'MessageDelivered');
    assert.equal(outcome?.data.remote.ip, '127.0.0.2');
    assert.equal(outcome?.data.remote.mx, 'mx2.fallback.test');
    assert.equal(outcome?.data.attempt, 1);
    assert.equal(outcome?.data.reply.code, 250);
  });

  it('uses the A record when a domain has no MX', async () => {
    const id = await submit(['user@a-only.test']);
    const [outcome] = await settled(id, 1);
    assert.equal(outcome?.type, 'MessageDelivered');
    assert.equal(outcome?.data.remote.ip, '127.0.0.3');
    assert.ok(mx3.transactions.some((t) => t.to.includes('user@a-only.test')));
  });

  it('bounces a null MX domain at once with 556 5.1.10, and a domain that does not exist with 5.1.2', async () => {
    const id = await submit(['user@nullmx.test', 'user@nxdomain.test']);
    const final = await settled(id, 2);
    const byRcpt = Object.fromEntries(final.map((e) => [e.data.recipient, e]));
    const nullMx = byRcpt['user@nullmx.test'];
    assert.equal(nullMx?.type, 'MessageBounced');
    assert.deepEqual([nullMx?.data.reply.code, nullMx?.data.reply.enhancedCode], [556, '5.1.10']);
    const nx = byRcpt['user@nxdomain.test'];
    assert.equal(nx?.type, 'MessageBounced');
    assert.equal(nx?.data.reply.enhancedCode, '5.1.2');
    assert.equal(nx?.type === 'MessageBounced' && nx.data.classification.category, 'bad-domain');
  });

  it('a route sends a domain to its own host and port, without DNS', async () => {
    const id = await submit(['user@routed.test']);
    const [outcome] = await settled(id, 1);
    assert.equal(outcome?.type, 'MessageDelivered');
    assert.ok(routed.transactions.some((t) => t.to.includes('user@routed.test')));
  });

  it('each recipient gets its own outcome: 2xx delivered, 5xx bounced, 4xx deferred with the next attempt time', async () => {
    const id = await submit([
      'ok@sink.test',
      'permfail@sink.test',
      'full@sink.test',
      'greylist@sink.test',
    ]);
    const final = await settled(id, 4);
    const byRcpt = Object.fromEntries(final.map((e) => [e.data.recipient, e]));
    assert.equal(byRcpt['ok@sink.test']?.type, 'MessageDelivered');
    const perm = byRcpt['permfail@sink.test'];
    assert.equal(perm?.type, 'MessageBounced');
    assert.deepEqual([perm?.data.reply.code, perm?.data.reply.enhancedCode], [550, '5.1.1']);
    assert.equal(perm?.data.remote.mx, 'mx.sink.test');
    assert.equal(byRcpt['full@sink.test']?.type, 'MessageBounced');
    assert.equal(byRcpt['full@sink.test']?.data.reply.enhancedCode, '5.2.2');
    // Greylisted: deferred once (450 4.2.0), then delivered on the retry a second later.
    const grey = (await outcomes(id)).filter((e) => e.data.recipient === 'greylist@sink.test');
    assert.deepEqual(
      grey.map((e) => e.type),
      ['DeliveryDeferred', 'MessageDelivered'],
    );
    const deferred = grey[0] as Extract<Outcome, { type: 'DeliveryDeferred' }>;
    assert.deepEqual([deferred.data.reply.code, deferred.data.reply.enhancedCode], [450, '4.2.0']);
    assert.ok(deferred.data.nextAttemptAt >= deferred.data.at + 1000);
    assert.equal(grey[1]?.data.attempt, 2);
  });

  it('a receiver that drops the connection in DATA is retried, not bounced', async () => {
    const id = await submit(['disconnect@sink.test']);
    const first = await waitFor(async () => (await outcomes(id))[0], 'first attempt');
    assert.equal(first.type, 'DeliveryDeferred');
    assert.equal(first.data.reply.code, 451);
  });

  it('a recipient still deferred at the maximum queue age bounces as expired', async () => {
    const id = await submit(['tempfail@sink.test']);
    const final = await settled(id, 1, 20_000);
    const attempts = await outcomes(id);
    assert.ok(attempts.length >= 3, `attempts: ${attempts.length}`);
    const last = final[0];
    assert.equal(last?.type, 'MessageBounced');
    assert.equal(last?.type === 'MessageBounced' && last.data.phase, 'expired');
    assert.equal(
      last?.type === 'MessageBounced' && last.data.classification.category,
      'message-expired',
    );
    assert.equal(last?.data.reply.enhancedCode, '4.3.0');
  });

  it('upgrades to TLS when the MX offers STARTTLS, even with a self-signed certificate', async () => {
    const id = await submit(['tls@sink.test']);
    const [outcome] = await settled(id, 1);
    assert.equal(outcome?.data.remote.tls, true);
    assert.ok(outcome?.data.remote.esmtp.includes('PIPELINING'));
    assert.equal(mx2.transactions.find((t) => t.to.includes('tls@sink.test'))?.tls, true);
  });

  it('reuses one connection for several messages to the same domain', async () => {
    for (let i = 0; i < 4; i++) await settled(await submit([`reuse${i}@sink.test`]), 1);
    const sessions = mx2.transactions
      .filter((t) => t.to[0]?.startsWith('reuse'))
      .map((t) => t.session);
    assert.equal(sessions.length, 4);
    assert.equal(new Set(sessions).size, 1, `sessions: ${sessions.join(' ')}`);
  });

  it('never sends bare CR, bare LF or NUL downstream, whatever reached the log', async () => {
    // Injected straight into the log, past the SMTP ingestion checks.
    const messageId = `01SMUGGLE${randomUUID().replace(/-/g, '').slice(0, 17).toUpperCase()}`;
    const body = Buffer.from(
      'Subject: smuggle\r\n\r\nhello\r.\rMAIL FROM:<x@victim.test>\n.\nend\r\n\0.\r\n',
    );
    await handleCommand(
      relay.store,
      messageStream(messageId),
      messageDecider,
      {
        type: 'AcceptMessage',
        data: {
          messageId,
          acceptedAt: Date.now(),
          source: 'smtp',
          credential: null,
          client: { address: '127.0.0.1', helo: 'test', tls: false },
          envelope: {
            from: 'app@sender.test',
            to: [{ address: 'smuggle@sink.test', orcpt: null }],
            envId: null,
          },
          headers: { messageId: null, subject: 'smuggle', from: null },
          size: body.length,
          bodyRef: `body-${messageId}`,
          jobId: null,
          lane: 'transactional',
          pool: null,
          returnPathDomain: null,
          recipientHeadersRef: null,
          ...NO_SUBMISSION_OPTIONS,
        },
      },
      { newEventId: () => randomUUID(), blobs: [{ key: `body-${messageId}`, bytes: body }] },
    );
    await settled(messageId, 1);
    const received = mx2.transactions.find((t) => t.to.includes('smuggle@sink.test'));
    assert.ok(received?.file);
    const wire = readFileSync(received.file);
    assert.ok(isClean(inspectLineEndings(wire)), JSON.stringify(wire.toString('latin1')));
    assert.equal(mx2.transactions.filter((t) => t.from === 'x@victim.test').length, 0);
  });

  it('the accounting log has d, b and t records with the remote reply and category', async () => {
    await catchUpProjection(relay.store, relay.readDb, accountingProjection);
    const records = [...acctRecords(relay.readDb)];
    const perm = records.find((r) => r.rcpt === 'permfail@sink.test');
    assert.equal(perm?.type, 'b');
    assert.equal(perm?.dsnStatus, '5.1.1');
    assert.equal(perm?.bounceCat, 'bad-mailbox');
    assert.match(perm?.dsnDiag ?? '', /^smtp;550 5\.1\.1 /);
    assert.equal(perm?.dlvDestinationIp, '127.0.0.2');
    assert.equal(records.find((r) => r.rcpt === 'ok@sink.test')?.type, 'd');
    assert.ok(records.some((r) => r.rcpt === 'greylist@sink.test' && r.type === 't'));
    assert.ok(records.some((r) => r.rcpt === 'greylist@sink.test' && r.type === 'd'));
  });
});
