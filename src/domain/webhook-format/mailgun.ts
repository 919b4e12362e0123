import type { RecipientSuppressed, Remote } from '../message/events.js';
import { effectiveEnhancedCode, type SmtpReply } from '../smtp-reply/smtp-reply.js';
import { type Notification, WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
import { soleNotification } from './batch.js';
import { clientInfo } from './client-info.js';
import { domainOf, messageIdHeaderOf, notificationEventId } from './notification-ids.js';
import type { RenderContext, WebhookFormat } from './webhook-format.js';

/**
 * Mailgun's JSON webhooks (2018 on): `{ signature, 'event-data' }`, one event per request,
 * event-data shaped like an Events API item. Field sets follow Mailgun's Events API examples
 * and the complete real `delivered` payload in anymail's tests; what we cannot know
 * (`storage`, `template`, geolocation) is left out or reads Unknown rather than invented.
 */

type Json = Readonly<Record<string, unknown>>;

type LogLevel = 'info' | 'warn' | 'error';

/**
 * Mailgun's own codes and wording for a recipient it will not send to (its 605/606/607,
 * reason `suppress-*`). A manual entry is the sender's own do-not-send list, which is what
 * Mailgun's unsubscribe list is (and what anymail makes of Postmark's ManualSuppression).
 */
const SUPPRESSION: Readonly<
  Record<
    RecipientSuppressed['data']['reason'],
    { readonly reason: string; readonly code: number; readonly description: string }
  >
> = {
  'hard-bounce': {
    reason: 'suppress-bounce',
    code: 605,
    description: 'Not delivering to previously bounced address',
  },
  unsubscribe: {
    reason: 'suppress-unsubscribe',
    code: 606,
    description: 'Not delivering to unsubscribed address',
  },
  complaint: {
    reason: 'suppress-complaint',
    code: 607,
    description: 'Not delivering to a user who marked your messages as spam',
  },
  manual: {
    reason: 'suppress-unsubscribe',
    code: 606,
    description: 'Not delivering to unsubscribed address',
  },
};

const withoutBrackets = (messageId: string): string => messageId.trim().replace(/^<|>$/g, '');

const headers = (n: Notification, context: RenderContext): Json => ({
  // The To header is not kept; the recipient is what this event is about and leaks no Bcc.
  to: n.recipient,
  'message-id': withoutBrackets(messageIdHeaderOf(n.message, context.hostname)),
  from: n.message.from ?? n.message.envelopeFrom,
  subject: n.message.subject ?? '',
});

const fullMessage = (n: Notification, context: RenderContext): Json => ({
  headers: headers(n, context),
  attachments: [],
  size: n.message.size,
});

const flags = (n: Notification, extra: Json = {}): Json => ({
  'is-routed': false,
  'is-authenticated': n.message.credential !== null,
  'is-system-test': false,
  'is-test-mode': n.message.testMode,
  ...extra,
});

const envelope = (n: Notification, sendingIp: string | null): Json => ({
  transport: 'smtp',
  sender: n.message.envelopeFrom,
  ...(sendingIp === null ? {} : { 'sending-ip': sendingIp }),
  targets: n.recipient,
});

/** Whether the remote offered SMTPUTF8, which is what Mailgun's `utf8` reports. */
const utf8 = (remote: Remote): boolean =>
  remote.esmtp.some((line) => line.split(' ')[0]?.toUpperCase() === 'SMTPUTF8');

const deliveryStatus = (
  reply: SmtpReply,
  remote: Remote,
  attempt: number,
  extra: Json = {},
): Json => ({
  tls: remote.tls,
  'mx-host': remote.mx ?? '',
  'attempt-no': attempt,
  description: '',
  // The SMTP session's length is not recorded.
  'session-seconds': 0,
  utf8: utf8(remote),
  code: reply.code,
  message: reply.text,
  'certificate-verified': remote.tlsVerified === true,
  'enhanced-code': effectiveEnhancedCode(reply),
  ...extra,
});

const common = (n: Notification, event: string, logLevel: LogLevel): Json => ({
  event,
  id: notificationEventId(n),
  timestamp: n.at / 1000,
  'log-level': logLevel,
  recipient: n.recipient,
  'recipient-domain': domainOf(n.recipient),
  tags: [...n.message.tags],
  campaigns: [],
  'user-variables': { ...n.message.metadata },
  ...(n.message.batchId === null ? {} : { batch: { id: n.message.batchId } }),
});

/** Opens, clicks and unsubscribes: who did it, and only the Message-ID of what they read. */
const engagement = (
  n: Notification,
  context: RenderContext,
  who: {
    readonly userAgent: string | null;
    readonly ip: string | null;
    readonly machine: string | null;
  },
): Json => {
  const info = clientInfo(who.userAgent);
  return {
    message: {
      headers: { 'message-id': withoutBrackets(messageIdHeaderOf(n.message, context.hostname)) },
    },
    ...(who.ip === null ? {} : { ip: who.ip }),
    geolocation: { country: 'Unknown', region: 'Unknown', city: 'Unknown' },
    'client-info': {
      'client-type':
        info.client.kind === 'browser' && (info.device === 'mobile' || info.device === 'tablet')
          ? 'mobile browser'
          : info.client.kind,
      'client-os': info.os.name,
      'device-type': info.device,
      'client-name': info.client.name,
      'user-agent': who.userAgent ?? '',
      bot: who.machine ?? '',
    },
  };
};

const NOBODY = { userAgent: null, ip: null, machine: null } as const;

const eventData = (n: Notification, context: RenderContext): Json => {
  switch (n.kind) {
    case 'accepted':
      return {
        ...common(n, 'accepted', 'info'),
        method: n.message.source === 'smtp' ? 'smtp' : 'http',
        envelope: envelope(n, null),
        flags: flags(n),
        message: fullMessage(n, context),
      };
    case 'delivered': {
      const { reply, remote, attempt } = n.event.data;
      return {
        ...common(n, 'delivered', 'info'),
        envelope: envelope(n, remote.sourceIp),
        flags: flags(n),
        message: fullMessage(n, context),
        'delivery-status': deliveryStatus(reply, remote, attempt),
      };
    }
    case 'deferred': {
      const { reply, remote, attempt, at, nextAttemptAt } = n.event.data;
      return {
        ...common(n, 'failed', 'warn'),
        severity: 'temporary',
        reason: 'generic',
        envelope: envelope(n, remote.sourceIp),
        flags: flags(n),
        message: fullMessage(n, context),
        'delivery-status': deliveryStatus(reply, remote, attempt, {
          'retry-seconds': Math.max(0, Math.round((nextAttemptAt - at) / 1000)),
        }),
      };
    }
    case 'bounced': {
      const { reply, remote, attempt, phase } = n.event.data;
      return {
        ...common(n, 'failed', 'error'),
        // Every bounce is final here, whatever its severity: nothing will retry it.
        severity: 'permanent',
        // An expiry is no answer from the recipient's server, so no `bounce`: Mailgun's
        // catch-all `generic`.
        reason: phase === 'expired' ? 'generic' : 'bounce',
        envelope: envelope(n, remote.sourceIp),
        flags: flags(n, phase === 'out-of-band' ? { 'is-delayed-bounce': true } : {}),
        message: fullMessage(n, context),
        'delivery-status': deliveryStatus(reply, remote, attempt),
      };
    }
    case 'dropped': {
      const suppression = SUPPRESSION[n.event.data.reason];
      return {
        ...common(n, 'failed', 'error'),
        severity: 'permanent',
        reason: suppression.reason,
        envelope: envelope(n, null),
        flags: flags(n),
        message: fullMessage(n, context),
        // As Mailgun sends it: nothing was attempted, so no MTA message, only its own words.
        'delivery-status': {
          'attempt-no': 1,
          message: '',
          code: suppression.code,
          description: suppression.description,
          'session-seconds': 0,
        },
      };
    }
    case 'complained':
      return {
        ...common(n, 'complained', 'warn'),
        flags: flags(n),
        message: fullMessage(n, context),
      };
    case 'unsubscribed':
      return { ...common(n, 'unsubscribed', 'info'), ...engagement(n, context, NOBODY) };
    case 'opened':
      return { ...common(n, 'opened', 'info'), ...engagement(n, context, n.event.data) };
    case 'clicked':
      return {
        ...common(n, 'clicked', 'info'),
        ...engagement(n, context, n.event.data),
        url: n.event.data.url,
      };
  }
};

export const mailgunFormat: WebhookFormat = {
  name: 'mailgun',
  kinds: new Set(WEBHOOK_EVENT_KINDS),
  batchSize: 1,
  render: (notifications, context) => ({
    signature: context.mailgunSignature,
    'event-data': eventData(soleNotification(mailgunFormat, notifications), context),
  }),
};
