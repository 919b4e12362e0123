import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Notification, WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
import {
  ANN,
  accepted,
  appleOpened,
  BOB,
  CHROME_MAC,
  clicked,
  complained,
  context,
  deferred,
  delivered,
  everyKind,
  expiredBounce,
  hardBounce,
  type Json,
  lateBounce,
  notify,
  opened,
  POSITION,
  policyBounce,
  summary,
  suppressed,
  T0,
  unsubscribed,
} from './fixtures.test-support.js';
import { sendgridFormat } from './sendgrid.js';

const render = (notifications: readonly Notification[]): Json[] =>
  sendgridFormat.render(notifications, context) as Json[];
const one = (n: Notification): Json => render([n])[0] as Json;

/** anymail's `SendGridTrackingWebhookView.sendgrid_event_keys`: the keys SendGrid sends. */
const SENDGRID_EVENT_KEYS = new Set([
  'anymail_id',
  'asm_group_id',
  'attempt',
  'category',
  'cert_err',
  'email',
  'event',
  'ip',
  'marketing_campaign_id',
  'marketing_campaign_name',
  'newsletter',
  'nlvx_campaign_id',
  'nlvx_campaign_split_id',
  'nlvx_user_id',
  'pool',
  'post_type',
  'reason',
  'response',
  'send_at',
  'sg_event_id',
  'sg_message_id',
  'smtp-id',
  'status',
  'timestamp',
  'tls',
  'type',
  'url',
  'url_offset',
  'useragent',
  // Newer than anymail's list: SendGrid's Apple Mail Privacy Protection flag on opens.
  'sg_machine_open',
]);

describe('SendGrid webhook payloads', () => {
  it('posts arrays of up to 100 events, one per notification, in order', () => {
    const all = everyKind();
    const events = render(all);
    assert.ok(Array.isArray(events));
    assert.equal(events.length, all.length);
    assert.deepEqual(
      events.map((e) => e.event),
      [
        'processed',
        'delivered',
        'deferred',
        'bounce',
        'dropped',
        'spamreport',
        'unsubscribe',
        'open',
        'click',
      ],
    );
    assert.equal(sendgridFormat.batchSize, 100);
    assert.deepEqual([...sendgridFormat.kinds].sort(), [...WEBHOOK_EVENT_KINDS].sort());
    assert.equal(render(Array.from({ length: 100 }, () => notify(opened))).length, 100);
    assert.throws(() => render(Array.from({ length: 101 }, () => notify(opened))), {
      name: 'RangeError',
    });
  });

  it('every event has the common fields, and no key SendGrid does not send besides custom args', () => {
    const custom = new Set(Object.keys(summary.metadata));
    for (const e of render(everyKind())) {
      for (const key of ['email', 'timestamp', 'event', 'smtp-id', 'sg_event_id', 'sg_message_id'])
        assert.ok(key in e, `${e.event} has ${key}`);
      for (const key of Object.keys(e))
        assert.ok(
          SENDGRID_EVENT_KEYS.has(key) || custom.has(key),
          `${e.event}: ${key} is neither SendGrid's nor a custom arg`,
        );
      assert.ok(e.email === ANN || e.email === BOB);
      assert.equal(e['smtp-id'], '<20260314093000.1.ABCDEF@shop.example.org>');
      // Prefixed by the X-Message-Id the send answered with, as SendGrid's are.
      assert.equal(e.sg_message_id, `${summary.batchId}.${summary.messageId}`);
      assert.ok(Number.isInteger(e.timestamp));
      assert.deepEqual(e.category, ['order', 'receipt']);
      assert.equal(e.order, '42');
      assert.equal(e.cohort, '2026-03-A');
    }
    assert.equal(one(notify(delivered)).timestamp, Math.floor((T0 + 2_500) / 1000));
  });

  it('sg_event_id is url-safe, at most 100 characters, stable, and unique per notification', () => {
    const events = render([
      ...everyKind(),
      { ...notify(accepted), recipient: BOB },
      notify(opened, { position: 99n }),
    ]);
    const ids = events.map((e) => e.sg_event_id as string);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{1,100}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(one(notify(opened, { position: POSITION + 7n })).sg_event_id, ids[7]);
  });

  it('custom args are top-level keys; where one clashes, SendGrid keeps its own', () => {
    const clashing = {
      ...summary,
      metadata: { event: 'SendEmail', email: 'jane@example.com', tls: 'yes', userid: '1123' },
    };
    const e = one(notify(delivered, { message: clashing }));
    assert.equal(e.event, 'delivered');
    assert.equal(e.email, ANN);
    assert.equal(e.tls, 1);
    assert.equal(e.userid, '1123');
  });

  it('processed names the pool; a scheduled message says when; no tags, no category', () => {
    const processed = one(notify(accepted));
    assert.equal((processed.pool as Json).name, 'transactional-pool');
    assert.ok(Number.isInteger((processed.pool as Json).id));
    assert.equal(processed.send_at, undefined);
    const later = {
      ...summary,
      pool: null,
      tags: [],
      scheduledAt: T0 + 3_600_500,
    };
    const scheduled = one(notify(accepted, { message: later }));
    assert.equal(scheduled.pool, undefined);
    assert.equal(scheduled.send_at, Math.floor((T0 + 3_600_500) / 1000));
    assert.equal('category' in scheduled, false);
  });

  it('delivered and deferred carry the reply, TLS, the sending IP and the attempt', () => {
    const d = one(notify(delivered));
    assert.equal(d.response, '250 2.0.0 OK 1773480602 q1si42 - gsmtp');
    assert.equal(d.tls, 1);
    assert.equal(d.ip, '203.0.113.10');
    const later = one(notify(deferred));
    assert.equal(later.response, '451 4.7.1 Greylisted, please try again later');
    assert.equal(later.attempt, '2');
  });

  it('bounces are `bounce` when permanent and `blocked` otherwise, with reason and status', () => {
    const row = (n: Notification) => {
      const e = one(n);
      return [e.event, e.type, e.status, e.reason];
    };
    assert.deepEqual(row(notify(hardBounce)), [
      'bounce',
      'bounce',
      '5.1.1',
      '550 5.1.1 The email account that you tried to reach does not exist.',
    ]);
    assert.deepEqual(row(notify(policyBounce)), [
      'bounce',
      'blocked',
      '5.7.1',
      '554 5.7.1 Message rejected due to local policy',
    ]);
    assert.deepEqual(row(notify(expiredBounce)), [
      'bounce',
      'blocked',
      '4.4.1',
      '451 4.4.1 connection timed out',
    ]);
    assert.equal(one(notify(lateBounce)).status, '5.0.0', 'derived when the reply had none');
  });

  it('drops give SendGrid’s reasons', () => {
    const reasons = (['hard-bounce', 'unsubscribe', 'complaint', 'manual'] as const).map(
      (reason) => {
        const e = one(notify(suppressed(reason)));
        assert.equal(e.event, 'dropped');
        assert.equal(e.status, '5.0.0');
        assert.equal(e.email, BOB);
        return e.reason;
      },
    );
    assert.deepEqual(reasons, [
      'Bounced Address',
      'Unsubscribed Address',
      'Spam Reporting Address',
      'Unsubscribed Address',
    ]);
  });

  it('opens and clicks carry the reader; Apple’s prefetch is a machine open', () => {
    const open = one(notify(opened));
    assert.equal(open.useragent, CHROME_MAC);
    assert.equal(open.ip, '198.51.100.7', "the reader's address, not ours");
    assert.equal(open.sg_machine_open, false);
    assert.equal(one(notify(appleOpened)).sg_machine_open, true);
    // Gmail's proxy fetches when the reader opens: a real open, whatever fetched it.
    const viaGmail = { ...opened, data: { ...opened.data, machine: 'gmail' as const } };
    assert.equal(one(notify(viaGmail)).sg_machine_open, false);
    const click = one(notify(clicked));
    assert.equal(click.url, 'https://shop.example.org/orders/42?utm_source=mail');
    assert.equal(click.ip, '198.51.100.8');
    for (const e of [one(notify(complained)), one(notify(unsubscribed))])
      assert.deepEqual(
        Object.keys(e)
          .filter((k) => !(k in summary.metadata))
          .sort(),
        ['category', 'email', 'event', 'sg_event_id', 'sg_message_id', 'smtp-id', 'timestamp'],
      );
  });

  it('is pure and JSON-safe', () => {
    const all = everyKind();
    assert.deepEqual(render(all), render(all));
    assert.deepEqual(JSON.parse(JSON.stringify(render(all))), render(all));
  });
});
