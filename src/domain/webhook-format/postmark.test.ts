import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Models } from 'postmark';
import { type Notification, summarizeMessage } from '../webhook/notification.js';
import {
  ANN,
  accepted,
  appleOpened,
  CHROME_MAC,
  clicked,
  complained,
  context,
  deferred,
  delivered,
  expiredBounce,
  hardBounce,
  type Json,
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
import { postmarkFormat } from './postmark.js';

const render = (n: Notification, ctx = context): Json => postmarkFormat.render([n], ctx) as Json;

/**
 * Every key of postmark.js's webhook payload types, checked by the compiler: a key missing
 * here or not in the SDK type fails type-checking, so these lists follow the SDK.
 */
type KeysOf<T> = { readonly [K in keyof Required<T>]: true };
const keyList = (keys: object): string[] => Object.keys(keys).sort();

const DELIVERY = keyList({
  RecordType: true,
  ServerID: true,
  MessageStream: true,
  MessageID: true,
  Recipient: true,
  Tag: true,
  DeliveredAt: true,
  Details: true,
  Metadata: true,
} satisfies KeysOf<Models.DeliveryWebhook>);

const BOUNCE_FIELDS = {
  RecordType: true,
  ID: true,
  Type: true,
  TypeCode: true,
  Name: true,
  Tag: true,
  MessageID: true,
  ServerID: true,
  Description: true,
  Details: true,
  Email: true,
  From: true,
  BouncedAt: true,
  DumpAvailable: true,
  Inactive: true,
  CanActivate: true,
  Subject: true,
  Content: true,
  MessageStream: true,
  Metadata: true,
} as const;
// The bounce dump is optional in the SDK and Postmark sends it only when asked to.
const withoutContent = (keys: string[]) => keys.filter((k) => k !== 'Content');
const BOUNCE = withoutContent(keyList(BOUNCE_FIELDS satisfies KeysOf<Models.BounceWebhook>));
const SPAM_COMPLAINT = withoutContent(
  keyList(BOUNCE_FIELDS satisfies KeysOf<Models.SpamComplaintWebhook>),
);

const SUBSCRIPTION_CHANGE = keyList({
  RecordType: true,
  MessageID: true,
  ServerID: true,
  MessageStream: true,
  ChangedAt: true,
  Recipient: true,
  Origin: true,
  SuppressSending: true,
  SuppressionReason: true,
  Tag: true,
  Metadata: true,
} satisfies KeysOf<Models.SubscriptionChangeWebhook>);

const READER = {
  RecordType: true,
  Client: true,
  OS: true,
  Platform: true,
  UserAgent: true,
  Geo: true,
  MessageID: true,
  ReceivedAt: true,
  Tag: true,
  Recipient: true,
  MessageStream: true,
  Metadata: true,
} as const;
const OPEN = keyList({
  ...READER,
  FirstOpen: true,
  ReadSeconds: true,
} satisfies KeysOf<Models.OpenWebhook>);
const CLICK = keyList({
  ...READER,
  ClickLocation: true,
  OriginalLink: true,
} satisfies KeysOf<Models.ClickWebhook>);

describe('Postmark webhook payloads', () => {
  it('has events only for what Postmark has webhooks for, one per request', () => {
    assert.deepEqual([...postmarkFormat.kinds].sort(), [
      'bounced',
      'clicked',
      'complained',
      'delivered',
      'opened',
      'unsubscribed',
    ]);
    for (const kind of ['accepted', 'deferred', 'dropped'] as const)
      assert.equal(postmarkFormat.kinds.has(kind), false, kind);
    for (const event of [accepted, deferred, suppressed('hard-bounce')])
      assert.throws(() => render(notify(event)), { name: 'RangeError' }, event.type);
    assert.equal(postmarkFormat.batchSize, 1);
    assert.throws(() => postmarkFormat.render([notify(delivered), notify(opened)], context));
  });

  it('each record has exactly the fields of its postmark.js webhook type', () => {
    const cases: [Notification, string, string[]][] = [
      [notify(delivered), 'Delivery', DELIVERY],
      [notify(hardBounce), 'Bounce', BOUNCE],
      [notify(complained), 'SpamComplaint', SPAM_COMPLAINT],
      [notify(unsubscribed), 'SubscriptionChange', SUBSCRIPTION_CHANGE],
      [notify(opened), 'Open', OPEN],
      [notify(clicked), 'Click', CLICK],
    ];
    for (const [n, recordType, keys] of cases) {
      const record = render(n);
      assert.equal(record.RecordType, recordType);
      assert.deepEqual(sortedKeys(record), keys, recordType);
      assert.equal(record.MessageID, summary.messageId, `${recordType}: our message id`);
      assert.equal(record.MessageStream, 'outbound');
      assert.equal(record.Tag, 'order', `${recordType}: the first tag`);
      assert.deepEqual(record.Metadata, { order: '42', cohort: '2026-03-A' });
      for (const value of Object.values(record.Metadata as Json))
        assert.equal(typeof value, 'string');
    }
  });

  it("a tracked message's per-recipient copies are told by the MessageID the API answered with", () => {
    // Copies after the first are messages of their own, known to the client by the first's id.
    const copy = summarizeMessage({
      ...accepted.data,
      messageId: '01JPAZ3K7Q9V2C8M4N6R5T0W2Z',
      apiMessageId: accepted.data.messageId,
    });
    for (const event of [delivered, hardBounce, opened, clicked])
      assert.equal(render(notify(event, { message: copy })).MessageID, accepted.data.messageId);
  });

  it('every record names the stream the message went on: its MessageStream, else outbound', () => {
    const onBroadcast = { ...summary, stream: 'broadcast' };
    for (const event of [delivered, hardBounce, complained, unsubscribed, opened, clicked]) {
      assert.equal(render(notify(event, { message: onBroadcast })).MessageStream, 'broadcast');
      assert.equal(render(notify(event)).MessageStream, 'outbound');
    }
  });

  it('a Delivery says when, to whom, and what the server answered', () => {
    const record = render(notify(delivered));
    assert.equal(record.Recipient, ANN);
    assert.equal(record.DeliveredAt, new Date(T0 + 2_500).toISOString());
    assert.equal(record.Details, 'smtp;250 2.0.0 OK 1773480602 q1si42 - gsmtp');
    assert.equal(typeof record.ServerID, 'number');
    assert.ok(Number.isInteger(record.ServerID) && (record.ServerID as number) > 0);
    assert.equal(render(notify(delivered)).ServerID, record.ServerID, 'stable');
    assert.notEqual(
      render(notify(delivered), { ...context, hostname: 'relay2.mailtrail.test' }).ServerID,
      record.ServerID,
    );
    assert.equal(render(notify(delivered, { message: { ...summary, tags: [] } })).Tag, '');
  });

  it('bounce severities map to Postmark bounce types', () => {
    const row = (n: Notification) => {
      const r = render(n);
      return [r.Type, r.TypeCode, r.Name, r.Inactive];
    };
    assert.deepEqual(row(notify(hardBounce)), ['HardBounce', 1, 'Hard bounce', true]);
    assert.deepEqual(row(notify(expiredBounce)), ['SoftBounce', 4096, 'Soft bounce', false]);
    assert.deepEqual(row(notify(policyBounce)), ['Blocked', 100006, 'ISP block', false]);
  });

  it('a Bounce describes the bounce and the message it bounced', () => {
    const record = render(notify(hardBounce));
    assert.equal(record.ID, Number(POSITION));
    assert.equal(record.Email, ANN);
    assert.equal(record.From, 'orders@shop.example.org');
    assert.equal(record.Subject, 'Your order #42');
    assert.equal(record.BouncedAt, new Date(T0 + 3_000).toISOString());
    assert.equal(
      record.Description,
      'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
    );
    assert.equal(
      record.Details,
      'smtp;550 5.1.1 The email account that you tried to reach does not exist.',
    );
    assert.equal(record.DumpAvailable, false);
    assert.equal(record.CanActivate, true);
    assert.equal('Content' in record, false);
    assert.equal(render(notify(hardBounce, { position: POSITION + 1n })).ID, Number(POSITION) + 1);
  });

  it('a SpamComplaint deactivates the recipient for good', () => {
    const record = render(notify(complained));
    assert.equal(record.Type, 'SpamComplaint');
    assert.equal(record.TypeCode, 100001);
    assert.equal(record.Inactive, true);
    assert.equal(record.CanActivate, false);
    assert.equal(record.Email, ANN);
    assert.match(record.Details as string, /abuse/);
  });

  it('an unsubscribe is a SubscriptionChange that suppresses sending', () => {
    assert.deepEqual(render(notify(unsubscribed)), {
      RecordType: 'SubscriptionChange',
      MessageID: summary.messageId,
      ServerID: render(notify(delivered)).ServerID,
      MessageStream: 'outbound',
      ChangedAt: new Date(T0 + 7_200_000).toISOString(),
      Recipient: ANN,
      Origin: 'Recipient',
      SuppressSending: true,
      SuppressionReason: 'ManualSuppression',
      Tag: 'order',
      Metadata: { order: '42', cohort: '2026-03-A' },
    });
  });

  it('opens and clicks describe the reader', () => {
    const open = render(notify(opened));
    assert.equal(open.FirstOpen, true);
    assert.deepEqual(open.Client, { Name: 'Chrome', Company: 'Google', Family: 'Chrome' });
    assert.deepEqual(open.OS, { Name: 'OS X', Company: 'Apple Computer, Inc.', Family: 'OS X' });
    assert.equal(open.Platform, 'Desktop');
    assert.equal(open.UserAgent, CHROME_MAC);
    assert.equal(open.ReadSeconds, 0);
    assert.deepEqual(open.Geo, { IP: '198.51.100.7' });
    assert.equal(open.ReceivedAt, new Date(T0 + 3_600_000).toISOString());
    assert.equal(open.Recipient, ANN);

    const prefetch = render(notify(appleOpened));
    assert.equal(prefetch.FirstOpen, false);
    assert.deepEqual(prefetch.Client, { Name: 'unknown', Company: 'unknown', Family: 'unknown' });
    assert.equal(prefetch.Platform, 'Unknown');

    const click = render(notify(clicked));
    assert.equal(click.ClickLocation, 'HTML');
    const textClick = { ...clicked, data: { ...clicked.data, location: 'text' as const } };
    assert.equal(render(notify(textClick)).ClickLocation, 'Text');
    assert.equal(click.OriginalLink, 'https://shop.example.org/orders/42?utm_source=mail');
    assert.equal(click.UserAgent, SAFARI_IPHONE);
    assert.equal(click.Platform, 'Mobile');
    assert.equal((click.Client as Json).Name, 'Mobile Safari');
  });

  it('is pure and JSON-safe', () => {
    for (const event of [delivered, hardBounce, complained, unsubscribed, opened, clicked]) {
      const n = notify(event);
      assert.deepEqual(render(n), render(n));
      assert.deepEqual(JSON.parse(JSON.stringify(render(n))), render(n));
    }
  });
});
