import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Notification } from '../webhook/notification.js';
import { summarizeMessage, WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
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
  expiredBounce,
  hardBounce,
  type Json,
  lateBounce,
  notify,
  opened,
  POSITION,
  policyBounce,
  SAFARI_IPHONE,
  sortedKeys,
  summary,
  suppressed,
  T0,
  unsubscribed,
} from './fixtures.test-support.js';
import { mailgunFormat } from './mailgun.js';

const render = (n: Notification, ctx = context): { signature: unknown; 'event-data': Json } =>
  mailgunFormat.render([n], ctx) as { signature: unknown; 'event-data': Json };
const eventData = (n: Notification): Json => render(n)['event-data'];
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Json)[key], value);

/**
 * The complete real `delivered` event in anymail's tests (tests/test_mailgun_webhooks.py,
 * "an actual, complete (sanitized) delivered event as received from Mailgun"), trimmed of
 * `storage`, which points into Mailgun's own message store.
 */
const REAL_DELIVERED = {
  tags: [],
  timestamp: 1534108637.153125,
  'recipient-domain': 'example.com',
  id: 'hTWCTD81RtiDN-...',
  campaigns: [],
  'user-variables': {},
  flags: {
    'is-routed': false,
    'is-authenticated': true,
    'is-system-test': false,
    'is-test-mode': false,
  },
  'log-level': 'info',
  envelope: {
    'sending-ip': '333.123.123.200',
    sender: 'test@example.org',
    transport: 'smtp',
    targets: 'recipient@example.com',
  },
  message: {
    headers: {
      to: 'recipient@example.com',
      'message-id': '20180812211713.1.DF5966851B4BAA99@example.org',
      from: 'test@example.org',
      subject: 'Testing',
    },
    attachments: [],
    size: 809,
  },
  recipient: 'recipient@example.com',
  event: 'delivered',
  'delivery-status': {
    tls: true,
    'mx-host': 'smtp-in.example.com',
    'attempt-no': 1,
    description: '',
    'session-seconds': 3.5700838565826416,
    utf8: true,
    code: 250,
    message: 'OK',
    'certificate-verified': true,
  },
};

/** A real suppress-bounce `failed` event (posted publicly), trimmed of `storage`. */
const REAL_SUPPRESS_BOUNCE = {
  severity: 'permanent',
  tags: [],
  'delivery-status': {
    'attempt-no': 1,
    message: '',
    code: 605,
    description: 'Not delivering to previously bounced address',
    'session-seconds': 0,
  },
  'recipient-domain': 'list.ru',
  id: 'TMyFY0jySI-ZdQyZIQLzDQ',
  campaigns: [],
  reason: 'suppress-bounce',
  'user-variables': {},
  flags: {
    'is-routed': false,
    'is-authenticated': true,
    'is-system-test': false,
    'is-test-mode': false,
  },
  'log-level': 'error',
  timestamp: 1541097042.04357,
  envelope: { sender: 'postmaster@mg.example', transport: 'smtp', targets: 'x@list.ru' },
  message: {
    headers: { to: 'x@list.ru', 'message-id': 'a6d0f680@example', from: 'x', subject: 'x' },
    attachments: [],
    size: 19889,
  },
  recipient: 'x@list.ru',
  event: 'failed',
};

/** Mailgun's Events API `opened` example (api-events.rst), whose shape webhooks share. */
const DOCUMENTED_OPENED_KEYS = [
  'campaigns',
  'client-info',
  'event',
  'geolocation',
  'ip',
  'message',
  'recipient',
  'tags',
  'timestamp',
  'user-variables',
];

describe('Mailgun webhook payloads', () => {
  it('wrap one event in the signature the caller computed', () => {
    const body = render(notify(delivered));
    assert.deepEqual(sortedKeys(body), ['event-data', 'signature']);
    assert.deepEqual(body.signature, context.mailgunSignature);
    assert.equal(mailgunFormat.batchSize, 1);
    assert.throws(() => mailgunFormat.render([notify(delivered), notify(opened)], context), {
      name: 'RangeError',
    });
    assert.deepEqual([...mailgunFormat.kinds].sort(), [...WEBHOOK_EVENT_KINDS].sort());
  });

  it('a delivery has the keys of a real Mailgun delivered event, at every level', () => {
    const data = eventData(notify(delivered));
    // `batch` is ours to add (the message came with a request id); Mailgun documents it.
    assert.deepEqual(sortedKeys(data), [...sortedKeys(REAL_DELIVERED), 'batch'].sort());
    for (const path of [['flags'], ['envelope'], ['message'], ['message', 'headers']])
      assert.deepEqual(
        sortedKeys(at(data, ...path)),
        sortedKeys(at(REAL_DELIVERED, ...path)),
        path.join('.'),
      );
    assert.deepEqual(
      sortedKeys(data['delivery-status']),
      [...sortedKeys(REAL_DELIVERED['delivery-status']), 'enhanced-code'].sort(),
    );
  });

  it('a delivery says who, what and how, with the Message-ID bare of brackets', () => {
    const data = eventData(notify(delivered));
    assert.equal(data.event, 'delivered');
    assert.equal(data['log-level'], 'info');
    assert.equal(data.timestamp, (T0 + 2_500) / 1000, 'float epoch seconds of the event');
    assert.equal(data.recipient, ANN);
    assert.equal(data['recipient-domain'], 'example.com');
    assert.deepEqual(data.tags, ['order', 'receipt']);
    assert.deepEqual(data.campaigns, []);
    assert.deepEqual(data['user-variables'], { order: '42', cohort: '2026-03-A' });
    assert.deepEqual(data.batch, { id: summary.batchId });
    assert.deepEqual(data.message, {
      headers: {
        to: ANN,
        'message-id': '20260314093000.1.ABCDEF@shop.example.org',
        from: 'Shop <orders@shop.example.org>',
        subject: 'Your order #42',
      },
      attachments: [],
      size: 2809,
    });
    assert.deepEqual(data.envelope, {
      transport: 'smtp',
      sender: 'bounces@shop.example.org',
      'sending-ip': '203.0.113.10',
      targets: ANN,
    });
    assert.deepEqual(data.flags, {
      'is-routed': false,
      'is-authenticated': true,
      'is-system-test': false,
      'is-test-mode': false,
    });
    assert.deepEqual(data['delivery-status'], {
      tls: true,
      'mx-host': 'mx1.example.com',
      'attempt-no': 1,
      description: '',
      'session-seconds': 0,
      utf8: true,
      code: 250,
      message: 'OK 1773480602 q1si42 - gsmtp',
      'certificate-verified': true,
      'enhanced-code': '2.0.0',
    });
  });

  it('headers as people read them: encoded-words decoded, the Message-ID whatever its folding', () => {
    const message = summarizeMessage({
      ...accepted.data,
      headers: {
        // As parsed from mail nodemailer folded and encoded, and as older events stored it.
        messageId: ' <20260314093000.1.ABCDEF@notifications.mail.example-company.co.uk>',
        subject: '=?UTF-8?Q?Gr=C3=BC=C3=9Fe_zum_Auftrag_#42?=',
        from: '=?UTF-8?Q?M=C3=BCller=2C_Hans?= <orders@shop.example.org>',
      },
    });
    const { headers } = eventData(notify(delivered, { message })).message as { headers: Json };
    assert.equal(
      headers['message-id'],
      '20260314093000.1.ABCDEF@notifications.mail.example-company.co.uk',
    );
    assert.equal(headers.subject, 'Grüße zum Auftrag #42');
    assert.equal(headers.from, 'Müller, Hans <orders@shop.example.org>');
  });

  it('maps every kind to Mailgun event, severity, reason and log level', () => {
    const row = (n: Notification) => {
      const d = eventData(n);
      return [d.event, d.severity, d.reason, d['log-level']];
    };
    const cases: [Notification, unknown[]][] = [
      [notify(accepted), ['accepted', undefined, undefined, 'info']],
      [notify(delivered), ['delivered', undefined, undefined, 'info']],
      [notify(deferred), ['failed', 'temporary', 'generic', 'warn']],
      [notify(hardBounce), ['failed', 'permanent', 'bounce', 'error']],
      [notify(policyBounce), ['failed', 'permanent', 'bounce', 'error']],
      [notify(expiredBounce), ['failed', 'permanent', 'generic', 'error']],
      [notify(suppressed('hard-bounce')), ['failed', 'permanent', 'suppress-bounce', 'error']],
      [notify(suppressed('unsubscribe')), ['failed', 'permanent', 'suppress-unsubscribe', 'error']],
      [notify(suppressed('complaint')), ['failed', 'permanent', 'suppress-complaint', 'error']],
      [notify(suppressed('manual')), ['failed', 'permanent', 'suppress-unsubscribe', 'error']],
      [notify(complained), ['complained', undefined, undefined, 'warn']],
      [notify(unsubscribed), ['unsubscribed', undefined, undefined, 'info']],
      [notify(opened), ['opened', undefined, undefined, 'info']],
      [notify(clicked), ['clicked', undefined, undefined, 'info']],
    ];
    for (const [n, expected] of cases) assert.deepEqual(row(n), expected, n.event.type);
  });

  it('a deferral is a temporary failure carrying the reply and when the next try is', () => {
    const status = eventData(notify(deferred))['delivery-status'] as Json;
    assert.equal(status.code, 451);
    assert.equal(status['enhanced-code'], '4.7.1');
    assert.equal(status.message, 'Greylisted, please try again later');
    assert.equal(status['attempt-no'], 2);
    assert.equal(status['retry-seconds'], 300);
    assert.equal(status.tls, false);
  });

  it('a bounce carries the remote reply; a late (out-of-band) one is flagged delayed', () => {
    const status = eventData(notify(hardBounce))['delivery-status'] as Json;
    assert.equal(status.code, 550);
    assert.equal(status.message, 'The email account that you tried to reach does not exist.');
    assert.equal(status['enhanced-code'], '5.1.1');
    assert.equal(at(eventData(notify(hardBounce)), 'flags', 'is-delayed-bounce'), undefined);
    assert.equal(at(eventData(notify(lateBounce)), 'flags', 'is-delayed-bounce'), true);
    assert.equal(at(eventData(notify(lateBounce)), 'delivery-status', 'enhanced-code'), '5.0.0');
  });

  it('a suppressed recipient reads like a real Mailgun suppress-bounce drop', () => {
    const data = eventData(notify(suppressed('hard-bounce')));
    assert.deepEqual(sortedKeys(data), [...sortedKeys(REAL_SUPPRESS_BOUNCE), 'batch'].sort());
    assert.deepEqual(data['delivery-status'], REAL_SUPPRESS_BOUNCE['delivery-status']);
    assert.deepEqual(sortedKeys(data.envelope), sortedKeys(REAL_SUPPRESS_BOUNCE.envelope));
    assert.equal(data.recipient, BOB);
    assert.equal(data['recipient-domain'], 'example.net');
    const codes = (['unsubscribe', 'complaint'] as const).map((reason) => {
      const status = eventData(notify(suppressed(reason)))['delivery-status'] as Json;
      return [status.code, status.description];
    });
    assert.deepEqual(codes, [
      [606, 'Not delivering to unsubscribed address'],
      [607, 'Not delivering to a user who marked your messages as spam'],
    ]);
  });

  it('opens, clicks and unsubscribes carry the reader and only the Message-ID', () => {
    const open = eventData(notify(opened));
    assert.deepEqual(
      sortedKeys(open),
      [...DOCUMENTED_OPENED_KEYS, 'batch', 'id', 'log-level', 'recipient-domain'].sort(),
    );
    assert.deepEqual(open.message, {
      headers: { 'message-id': '20260314093000.1.ABCDEF@shop.example.org' },
    });
    assert.equal(open.ip, '198.51.100.7');
    assert.deepEqual(open.geolocation, { country: 'Unknown', region: 'Unknown', city: 'Unknown' });
    assert.deepEqual(open['client-info'], {
      'client-type': 'browser',
      'client-os': 'OS X',
      'device-type': 'desktop',
      'client-name': 'Chrome',
      'user-agent': CHROME_MAC,
      bot: '',
    });
    assert.equal(at(eventData(notify(appleOpened)), 'client-info', 'bot'), 'apple');

    const click = eventData(notify(clicked));
    assert.equal(click.url, 'https://shop.example.org/orders/42?utm_source=mail');
    assert.deepEqual(click['client-info'], {
      'client-type': 'mobile browser',
      'client-os': 'iOS',
      'device-type': 'mobile',
      'client-name': 'Mobile Safari',
      'user-agent': SAFARI_IPHONE,
      bot: '',
    });

    const unsubscribe = eventData(notify(unsubscribed));
    assert.equal(unsubscribe.ip, undefined, 'a one-click POST records no reader');
    assert.equal(at(unsubscribe, 'client-info', 'client-name'), 'unknown');
    for (const data of [open, click, unsubscribe]) {
      assert.equal(data['delivery-status'], undefined);
      assert.equal(data.envelope, undefined);
    }
  });

  it('acceptance and complaints carry the whole message header summary', () => {
    const accept = eventData(notify(accepted));
    assert.equal(accept.method, 'http');
    assert.deepEqual(accept.envelope, {
      transport: 'smtp',
      sender: 'bounces@shop.example.org',
      targets: ANN,
    });
    assert.equal(at(accept, 'message', 'size'), 2809);
    const complaint = eventData(notify(complained));
    assert.equal(at(complaint, 'message', 'headers', 'subject'), 'Your order #42');
    assert.equal(complaint['delivery-status'], undefined);
  });

  it('ids are 22 url-safe characters, stable per notification, distinct between them', () => {
    const [ann, bob] = [ANN, BOB].map((recipient) => eventData({ ...notify(accepted), recipient }));
    const id = (ann as Json).id as string;
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(eventData(notify(accepted)).id, id, 'the same on a retry');
    assert.notEqual((bob as Json).id, id, 'another recipient');
    assert.notEqual(eventData(notify(accepted, { position: POSITION + 1n })).id, id);
  });

  it('test mode, missing headers and no request id show as Mailgun would', () => {
    const bare = {
      ...summary,
      testMode: true,
      messageIdHeader: null,
      subject: null,
      from: null,
      batchId: null,
      credential: null,
    };
    const data = eventData(notify(delivered, { message: bare }));
    assert.equal(at(data, 'flags', 'is-test-mode'), true);
    assert.equal(at(data, 'flags', 'is-authenticated'), false);
    assert.deepEqual(at(data, 'message', 'headers'), {
      to: ANN,
      'message-id': `${summary.messageId}@relay1.mailtrail.test`,
      from: 'bounces@shop.example.org',
      subject: '',
    });
    assert.equal(data.batch, undefined);
  });

  it('is pure: the same notification and context render the same body', () => {
    const n = notify(clicked);
    assert.deepEqual(render(n), render(n));
    assert.deepEqual(JSON.parse(JSON.stringify(render(n))), render(n));
  });
});
