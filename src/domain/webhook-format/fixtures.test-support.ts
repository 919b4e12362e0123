/**
 * Test data for the format tests: one message with two recipients and one event of every
 * kind, built the way the log records them, turned into notifications by `notificationsOf`.
 */
import type {
  Clicked,
  ComplaintReceived,
  DeliveryDeferred,
  MessageAccepted,
  MessageBounced,
  MessageDelivered,
  MessageEvent,
  Opened,
  RecipientSuppressed,
  Remote,
  Unsubscribed,
} from '../message/events.js';
import {
  type MessageSummary,
  type Notification,
  notificationsOf,
  summarizeMessage,
} from '../webhook/notification.js';
import type { RenderContext } from './webhook-format.js';

export const T0 = Date.UTC(2026, 2, 14, 9, 30, 0, 250);
export const ANN = 'ann@example.com';
export const BOB = 'bob@Example.NET';

export const accepted: MessageAccepted = {
  type: 'MessageAccepted',
  data: {
    messageId: '01JPAZ3K7Q9V2C8M4N6R5T0W1X',
    acceptedAt: T0,
    source: 'mailgun',
    credential: { id: 'cred_1', name: 'shop' },
    client: { address: '192.0.2.50', helo: null, tls: true },
    envelope: {
      from: 'bounces@shop.example.org',
      to: [
        { address: ANN, orcpt: null },
        { address: BOB, orcpt: null },
      ],
      envId: null,
    },
    headers: {
      messageId: '<20260314093000.1.ABCDEF@shop.example.org>',
      subject: 'Your order #42',
      from: 'Shop <orders@shop.example.org>',
    },
    size: 2809,
    bodyRef: 'blob-1',
    jobId: null,
    lane: 'transactional',
    pool: 'transactional-pool',
    returnPathDomain: 'bounces.shop.example.org',
    recipientHeadersRef: null,
    batchId: '01JPAZ3K7Q9V2C8M4N6R5T0W1Y',
    apiMessageId: null,
    stream: null,
    tags: ['order', 'receipt'],
    metadata: { order: '42', cohort: '2026-03-A' },
    scheduledAt: null,
    testMode: false,
    requireTls: false,
    skipTlsVerification: false,
    tracking: { opens: true, clicks: true },
  },
};

export const summary: MessageSummary = summarizeMessage(accepted.data);

const remote: Remote = {
  mx: 'mx1.example.com',
  ip: '198.51.100.25',
  sourceIp: '203.0.113.10',
  tls: true,
  tlsVerified: true,
  esmtp: ['SIZE 35882577', '8BITMIME', 'STARTTLS', 'ENHANCEDSTATUSCODES', 'SMTPUTF8'],
};

const route = { site: 'domain:example.com', source: 'out1' };

export const delivered: MessageDelivered = {
  type: 'MessageDelivered',
  data: {
    recipient: ANN,
    ...route,
    attempt: 1,
    at: T0 + 2_500,
    reply: { code: 250, enhancedCode: '2.0.0', text: 'OK 1773480602 q1si42 - gsmtp' },
    remote,
    queuedMs: 2_500,
  },
};

export const deferred: DeliveryDeferred = {
  type: 'DeliveryDeferred',
  data: {
    recipient: ANN,
    ...route,
    attempt: 2,
    at: T0 + 60_000,
    nextAttemptAt: T0 + 60_000 + 300_000,
    reply: { code: 451, enhancedCode: '4.7.1', text: 'Greylisted, please try again later' },
    remote: { mx: remote.mx, ip: remote.ip, sourceIp: remote.sourceIp, tls: false, esmtp: [] },
    category: 'other',
    class: 'TransientFailure',
  },
};

const bounce = (
  severity: MessageBounced['data']['classification']['severity'],
  phase: MessageBounced['data']['phase'],
  reply: MessageBounced['data']['reply'],
): MessageBounced => ({
  type: 'MessageBounced',
  data: {
    recipient: ANN,
    ...route,
    attempt: 1,
    at: T0 + 3_000,
    reply,
    remote,
    classification: {
      class: severity === 'permanent' ? 'InvalidRecipient' : 'SpamBlock',
      category: severity === 'permanent' ? 'bad-mailbox' : 'spam-related',
      severity,
      rule: 'bounce-rules.yaml:3 /5\\.1\\.1/',
    },
    phase,
  },
});

export const hardBounce = bounce('permanent', 'in-band', {
  code: 550,
  enhancedCode: '5.1.1',
  text: 'The email account that you tried to reach does not exist.',
});
export const policyBounce = bounce('policy', 'in-band', {
  code: 554,
  enhancedCode: '5.7.1',
  text: 'Message rejected due to local policy',
});
export const expiredBounce: MessageBounced = {
  type: 'MessageBounced',
  data: {
    ...bounce('transient', 'expired', {
      code: 451,
      enhancedCode: '4.4.1',
      text: 'connection timed out',
    }).data,
    classification: {
      class: 'MessageExpired',
      category: 'message-expired',
      severity: 'transient',
      rule: 'queue.maxAge',
    },
  },
};
/** No enhanced code in the reply: SendGrid's status falls back to the class's x.0.0. */
export const lateBounce = bounce('permanent', 'out-of-band', {
  code: 550,
  enhancedCode: null,
  text: 'mailbox unavailable',
});

export const suppressed = (reason: RecipientSuppressed['data']['reason']): RecipientSuppressed => ({
  type: 'RecipientSuppressed',
  data: { recipient: BOB, at: T0, scope: 'global', reason },
});

export const complained: ComplaintReceived = {
  type: 'ComplaintReceived',
  data: {
    recipient: ANN,
    at: T0 + 86_400_000,
    feedbackType: 'abuse',
    userAgent: 'Yahoo! Mail AntiSpam Feedback Loop',
  },
};

export const unsubscribed: Unsubscribed = {
  type: 'Unsubscribed',
  data: { recipient: ANN, at: T0 + 7_200_000, method: 'one-click' },
};

export const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
export const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

export const opened: Opened = {
  type: 'Opened',
  data: {
    recipient: ANN,
    at: T0 + 3_600_000,
    userAgent: CHROME_MAC,
    ip: '198.51.100.7',
    machine: null,
    first: true,
  },
};

/** Apple Mail Privacy Protection fetching the pixel through Apple's proxy. */
export const appleOpened: Opened = {
  type: 'Opened',
  data: {
    recipient: ANN,
    at: T0 + 60_000,
    userAgent: 'Mozilla/5.0',
    ip: '17.58.1.2',
    machine: 'apple',
    first: false,
  },
};

export const clicked: Clicked = {
  type: 'Clicked',
  data: {
    recipient: ANN,
    at: T0 + 3_700_000,
    userAgent: SAFARI_IPHONE,
    ip: '198.51.100.8',
    machine: null,
    first: true,
    url: 'https://shop.example.org/orders/42?utm_source=mail',
    location: 'html',
  },
};

export const POSITION = 1_234n;

/** The notification for the first (or only) recipient of an event. */
export const notify = (
  event: MessageEvent,
  options: { readonly message?: MessageSummary; readonly position?: bigint } = {},
): Notification => {
  const [first] = notificationsOf(
    event,
    options.message ?? summary,
    options.position ?? POSITION,
    T0 + 99_000,
  );
  if (!first) throw new Error(`${event.type} makes no notification`);
  return first;
};

/**
 * One notification of every kind (the first recipient's), in kind order, each at its own log
 * position as in a real stream.
 */
export const everyKind = (): Notification[] =>
  [
    accepted,
    delivered,
    deferred,
    hardBounce,
    suppressed('hard-bounce'),
    complained,
    unsubscribed,
    opened,
    clicked,
  ].map((event, i) => notify(event, { position: POSITION + BigInt(i) }));

export const context: RenderContext = {
  sentAt: T0 + 100_000,
  hostname: 'relay1.mailtrail.test',
  mailgunSignature: {
    timestamp: String(Math.floor((T0 + 100_000) / 1000)),
    token: 'a'.repeat(50),
    signature: 'f'.repeat(64),
  },
};

export const contextWithoutSignature: RenderContext = { ...context, mailgunSignature: null };

/** A JSON object, for reading rendered payloads in assertions. */
export type Json = Record<string, unknown>;

export const sortedKeys = (value: unknown): string[] => Object.keys(value as Json).sort();
