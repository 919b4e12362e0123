/**
 * Reply rules that act beyond one queue's pace: a policy block takes an egress source out
 * of a site's rotation, and a site whose queue is bounced gets nothing more until the
 * bounce ends; and each site's TLS policy. Smart sinks on their own loopback addresses play
 * the sites.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateTls } from '../src/adapters/tls/self-signed.js';
import { type Sink, startSink, submit, type TestRelay, waitFor } from './support/relay-harness.js';
import { eventsOf, firstEvent, startShapedRelay } from './support/shaped-relay.js';

interface Bounced {
  recipient: string;
  phase: string;
  attempt: number;
  reply: { code: number; enhancedCode: string };
  classification: { severity: string; rule: string };
}

describe('reply rules: disable-source', () => {
  let relay: TestRelay;
  let site: Sink; // 127.0.0.23, reached from mta1 (127.0.0.21) and mta2 (127.0.0.22)

  before(async () => {
    site = await startSink('127.0.0.23');
    relay = await startShapedRelay(
      [
        'domains:',
        '  guarded.test:',
        '    responses:',
        "      - { match: '^550 5\\.7\\.1', threshold: 1, within: 1m, action: disable-source, for: 1h }",
      ],
      { 'guarded.test': { host: '127.0.0.23', sink: site } },
      {
        egress: {
          sources: {
            mta1: { address: '127.0.0.21', ehlo: 'mta1.relay.test' },
            mta2: { address: '127.0.0.22', ehlo: 'mta2.relay.test' },
          },
          pools: { both: { mta1: 1, mta2: 1 } },
          defaultPool: 'both',
        },
      },
    );
  });
  after(async () => {
    await relay.cleanup();
    await site.close();
  });

  it('a 550 5.7.1 takes the source that got it out of the site; the other source carries the rest', async () => {
    await submit(relay.smtpPort, ['blocked1@guarded.test']);
    const disabled = await firstEvent(relay, 'SourceDisabled');
    const prefix = `site-mx:127.0.0.23:${site.port} from `;
    assert.ok(disabled.streamName.startsWith(prefix), disabled.streamName);
    const off = disabled.streamName.slice(prefix.length);
    const other = off === 'mta1' ? '127.0.0.22' : '127.0.0.21';

    await Promise.all(
      Array.from({ length: 20 }, (_, i) => submit(relay.smtpPort, [`ok${i}@guarded.test`])),
    );
    await waitFor(() => site.transactions.length === 20, 'all 20 delivered');
    assert.deepEqual([...new Set(site.transactions.map((t) => t.peer))], [other]);
    const [bounce] = await eventsOf(relay, 'MessageBounced');
    assert.equal((bounce?.data as Bounced | undefined)?.classification.severity, 'policy');
  });
});

describe('reply rules: bounce-queue', () => {
  let relay: TestRelay;
  let doomed: Sink; // 127.0.0.24
  let fine: Sink; // 127.0.0.25

  before(async () => {
    doomed = await startSink('127.0.0.24');
    fine = await startSink('127.0.0.25');
    relay = await startShapedRelay(
      [
        'domains:',
        '  doomed.test:',
        '    retry: [1h]',
        '    responses:',
        "      - { match: '^550 5\\.7\\.1', threshold: 2, within: 1m, action: bounce-queue, for: 10s }",
      ],
      {
        'doomed.test': { host: '127.0.0.24', sink: doomed },
        'fine.test': { host: '127.0.0.25', sink: fine },
      },
    );
  });
  after(async () => {
    await relay.cleanup();
    await doomed.close();
    await fine.close();
  });

  it('two policy blocks bounce what is queued for the site and what arrives until the bounce ends; other sites go on', async () => {
    // Two recipients deferred for an hour: queued, not due.
    for (const to of ['tempfail1@doomed.test', 'tempfail2@doomed.test'])
      await submit(relay.smtpPort, [to]);
    await waitFor(
      async () => (await eventsOf(relay, 'DeliveryDeferred')).length === 2,
      'two deferrals',
    );
    for (const to of ['blocked1@doomed.test', 'blocked2@doomed.test'])
      await submit(relay.smtpPort, [to]);
    const bounced = await firstEvent(relay, 'SiteQueueBounced');
    assert.equal(bounced.streamName, `site-mx:127.0.0.24:${doomed.port}`);
    const { until } = bounced.data as { until: number };

    // The deferred ones go at once, as admin bounces that name the reply and the rule.
    const admin = async () =>
      (await eventsOf(relay, 'MessageBounced'))
        .map((e) => e.data as Bounced)
        .filter((b) => b.phase === 'admin');
    const swept = await waitFor(async () => {
      const found = await admin();
      return found.length === 2 && found;
    }, 'the queue bounced');
    assert.deepEqual(swept.map((b) => b.recipient).sort(), [
      'tempfail1@doomed.test',
      'tempfail2@doomed.test',
    ]);
    assert.equal(swept[0]?.reply.enhancedCode, '5.7.1');
    assert.equal(swept[0]?.classification.severity, 'policy');
    assert.match(swept[0]?.classification.rule ?? '', /shaping\.yaml:5 \(bounce-queue\)$/);

    // While it lasts, new mail for the site bounces unsent; other sites are untouched.
    await submit(relay.smtpPort, ['during@doomed.test']);
    await submit(relay.smtpPort, ['during@fine.test']);
    const during = await waitFor(
      async () => (await admin()).find((b) => b.recipient === 'during@doomed.test'),
      'the new message bounced',
    );
    assert.equal(during.attempt, 0, 'never attempted');
    await waitFor(() => fine.transactions.length === 1, 'the other site delivered');
    assert.ok(Date.now() < until, 'all of that within the bounce');

    // Once it ends, the site gets mail again.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 100));
    await submit(relay.smtpPort, ['later@doomed.test']);
    await waitFor(
      () => doomed.transactions.find((t) => t.to.includes('later@doomed.test')),
      'delivered after the bounce',
    );
    assert.equal(
      doomed.transactions.filter((t) => t.to.includes('during@doomed.test')).length,
      0,
      'nothing sent during the bounce',
    );
  });
});

describe('TLS policy per site', () => {
  let relay: TestRelay;
  let plain: Sink; // 127.0.0.35: offers no STARTTLS
  let secure: Sink; // 127.0.0.36: offers STARTTLS

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-tls-policy-'));
    const tls = await loadOrCreateTls({}, join(dir, 'tls'), 'mx.secure.test');
    plain = await startSink('127.0.0.35');
    secure = await startSink('127.0.0.36', { tls });
    // Two domains with different policies on each server: they share its site, and so its
    // connections, which stay open between the messages below; the secure server's site
    // allows one at a time, so an idle connection of the other policy has to make room.
    relay = await startShapedRelay(
      [
        'domains:',
        '  strict.test: { tls: required, retry: [1h] }',
        '  loose.test: { tls: opportunistic }',
        '  clear.test: { tls: off, maxConnections: 1 }',
        '  secure.test: { tls: opportunistic, maxConnections: 1 }',
      ],
      {
        'strict.test': { host: '127.0.0.35', sink: plain },
        'loose.test': { host: '127.0.0.35', sink: plain },
        'clear.test': { host: '127.0.0.36', sink: secure },
        'secure.test': { host: '127.0.0.36', sink: secure },
      },
      { delivery: { idleTimeout: '1m' } },
    );
  });
  after(async () => {
    await relay.cleanup();
    await plain.close();
    await secure.close();
  });

  const deliveredTo = (sink: Sink, recipient: string) =>
    waitFor(
      () => sink.transactions.find((t) => t.to.includes(recipient)),
      `${recipient} delivered`,
    );

  it('required defers rather than send in clear, though a connection in clear is open to the same server', async () => {
    await submit(relay.smtpPort, ['lou@loose.test']);
    assert.equal((await deliveredTo(plain, 'lou@loose.test')).tls, false);
    await submit(relay.smtpPort, ['ann@strict.test']);
    const deferred = await firstEvent(relay, 'DeliveryDeferred');
    assert.equal((deferred.data as { recipient: string }).recipient, 'ann@strict.test');
    const reply = (deferred.data as { reply: { code: number; enhancedCode: string; text: string } })
      .reply;
    assert.deepEqual([reply.code, reply.enhancedCode], [451, '4.7.10']);
    assert.match(reply.text, /STARTTLS/);
    assert.deepEqual(
      plain.transactions.flatMap((t) => t.to),
      ['lou@loose.test'],
      'nothing of strict.test sent in clear',
    );
  });

  it('off never starts TLS, opportunistic does when offered, whichever went first', async () => {
    await submit(relay.smtpPort, ['cy@secure.test']);
    assert.equal((await deliveredTo(secure, 'cy@secure.test')).tls, true);
    await submit(relay.smtpPort, ['bob@clear.test']);
    assert.equal((await deliveredTo(secure, 'bob@clear.test')).tls, false);
    await submit(relay.smtpPort, ['dee@secure.test']);
    assert.equal((await deliveredTo(secure, 'dee@secure.test')).tls, true);
  });
});
