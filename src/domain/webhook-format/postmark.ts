import type { MessageBounced } from '../message/events.js';
import { formatSmtpReply, type SmtpReply } from '../smtp-reply/smtp-reply.js';
import type { Notification, WebhookEventKind } from '../webhook/notification.js';
import { soleNotification } from './batch.js';
import { clientInfo, type Named } from './client-info.js';
import { bareAddress, stableNumber } from './notification-ids.js';
import type { RenderContext, WebhookFormat } from './webhook-format.js';

/**
 * Postmark's webhooks: one JSON object per request, named by `RecordType`, with the fields of
 * postmark.js's webhook payload types (DeliveryWebhook, BounceWebhook, SpamComplaintWebhook,
 * SubscriptionChangeWebhook, OpenWebhook, ClickWebhook). Postmark has no webhook for
 * acceptance, deferral or a send it refused, so those kinds are never sent to it.
 */

type Json = Readonly<Record<string, unknown>>;

const KINDS: ReadonlySet<WebhookEventKind> = new Set<WebhookEventKind>([
  'delivered',
  'bounced',
  'complained',
  'unsubscribed',
  'opened',
  'clicked',
]);

/**
 * The stream a message went on: the one its MessageStream named, else the server's default
 * transactional stream, `outbound` (as Postmark does).
 */
const DEFAULT_STREAM = 'outbound';

interface BounceType {
  readonly Type: string;
  readonly TypeCode: number;
  readonly Name: string;
  readonly Description: string;
}

/** Postmark's own bounce types, names and descriptions. */
const HARD_BOUNCE: BounceType = {
  Type: 'HardBounce',
  TypeCode: 1,
  Name: 'Hard bounce',
  Description:
    'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
};
const SOFT_BOUNCE: BounceType = {
  Type: 'SoftBounce',
  TypeCode: 4096,
  Name: 'Soft bounce',
  Description:
    'Unable to temporarily deliver message (i.e. mailbox full, account disabled, exceeds quota, out of disk space).',
};
const BLOCKED: BounceType = {
  Type: 'Blocked',
  TypeCode: 100006,
  Name: 'ISP block',
  Description: 'Blocked from this ISP due to content or blacklisting.',
};
const SPAM_COMPLAINT: BounceType = {
  Type: 'SpamComplaint',
  TypeCode: 100001,
  Name: 'Spam complaint',
  Description: 'The subscriber explicitly marked this message as spam.',
};

/**
 * An expiry is transient (the queue age ran out on 4xx replies), so it is a SoftBounce, the
 * final-failure type anymail reads as bounced; Postmark's `Transient` would read as a delay.
 */
const bounceTypeOf = (data: MessageBounced['data']): BounceType =>
  data.classification.severity === 'permanent'
    ? HARD_BOUNCE
    : data.classification.severity === 'policy'
      ? BLOCKED
      : SOFT_BOUNCE;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The reply as a DSN's Diagnostic-Code gives it, which is how Postmark shows `Details`. */
const details = (reply: SmtpReply): string => `smtp;${formatSmtpReply(reply)}`;

/** Postmark has one Tag per message: the first of ours. */
const tagOf = (n: Notification): string => n.message.tags[0] ?? '';
const streamOf = (n: Notification): string => n.message.stream ?? DEFAULT_STREAM;

const sender = (n: Notification): string =>
  n.message.from === null ? n.message.envelopeFrom : bareAddress(n.message.from);

/**
 * Postmark's numeric server id; we have none, so a stable number for the relay's name, the
 * same on every node that shares it.
 */
const serverId = (context: RenderContext): number => stableNumber(context.hostname);

/** Bounce and SpamComplaint records share one shape (postmark.js's Bounce). */
const bounceRecord = (
  n: Notification,
  context: RenderContext,
  recordType: 'Bounce' | 'SpamComplaint',
  type: BounceType,
  fields: {
    readonly details: string;
    readonly inactive: boolean;
    readonly canActivate: boolean;
  },
): Json => ({
  RecordType: recordType,
  // Unique per event and stable on retries; bounced recipients of one event do not share one.
  ID: Number(n.position),
  ...type,
  Tag: tagOf(n),
  MessageID: n.message.apiMessageId,
  ServerID: serverId(context),
  MessageStream: streamOf(n),
  Details: fields.details,
  Email: n.recipient,
  From: sender(n),
  BouncedAt: iso(n.at),
  // We keep no bounce dump to fetch from a Postmark-style bounces API.
  DumpAvailable: false,
  Inactive: fields.inactive,
  CanActivate: fields.canActivate,
  Subject: n.message.subject ?? '',
  Metadata: { ...n.message.metadata },
});

const described = (named: Named): Json => ({
  Name: named.name,
  Company: named.company,
  Family: named.name,
});

/** Opens and clicks: who, from what; no geolocation beyond the address it came from. */
const reader = (userAgent: string | null, ip: string | null): Json => {
  const info = clientInfo(userAgent);
  return {
    Client: described(info.client),
    OS: described(info.os),
    Platform:
      info.device === 'desktop'
        ? 'Desktop'
        : info.device === 'mobile' || info.device === 'tablet'
          ? 'Mobile'
          : 'Unknown',
    UserAgent: userAgent ?? '',
    Geo: ip === null ? {} : { IP: ip },
  };
};

const record = (n: Notification, context: RenderContext): Json => {
  switch (n.kind) {
    case 'delivered':
      return {
        RecordType: 'Delivery',
        ServerID: serverId(context),
        MessageStream: streamOf(n),
        MessageID: n.message.apiMessageId,
        Recipient: n.recipient,
        Tag: tagOf(n),
        DeliveredAt: iso(n.at),
        Details: details(n.event.data.reply),
        Metadata: { ...n.message.metadata },
      };
    case 'bounced': {
      const type = bounceTypeOf(n.event.data);
      return bounceRecord(n, context, 'Bounce', type, {
        details: details(n.event.data.reply),
        // Postmark deactivates a recipient only on a hard bounce, as we suppress one.
        inactive: type === HARD_BOUNCE,
        canActivate: true,
      });
    }
    case 'complained': {
      const { feedbackType, userAgent } = n.event.data;
      return bounceRecord(n, context, 'SpamComplaint', SPAM_COMPLAINT, {
        details: [`feedback-type: ${feedbackType}`, userAgent && `reported by: ${userAgent}`]
          .filter(Boolean)
          .join('; '),
        // Postmark deactivates a complainer for good: it cannot be reactivated.
        inactive: true,
        canActivate: false,
      });
    }
    case 'unsubscribed':
      return {
        RecordType: 'SubscriptionChange',
        MessageID: n.message.apiMessageId,
        ServerID: serverId(context),
        MessageStream: streamOf(n),
        ChangedAt: iso(n.at),
        Recipient: n.recipient,
        Origin: 'Recipient',
        SuppressSending: true,
        SuppressionReason: 'ManualSuppression',
        Tag: tagOf(n),
        Metadata: { ...n.message.metadata },
      };
    case 'opened': {
      const { userAgent, ip, first } = n.event.data;
      return {
        RecordType: 'Open',
        FirstOpen: first,
        ...reader(userAgent, ip),
        // Read time is not measured.
        ReadSeconds: 0,
        MessageID: n.message.apiMessageId,
        MessageStream: streamOf(n),
        ReceivedAt: iso(n.at),
        Tag: tagOf(n),
        Recipient: n.recipient,
        Metadata: { ...n.message.metadata },
      };
    }
    case 'clicked': {
      const { userAgent, ip, url, location } = n.event.data;
      return {
        RecordType: 'Click',
        ClickLocation: location === 'text' ? 'Text' : 'HTML',
        ...reader(userAgent, ip),
        OriginalLink: url,
        MessageID: n.message.apiMessageId,
        MessageStream: streamOf(n),
        ReceivedAt: iso(n.at),
        Tag: tagOf(n),
        Recipient: n.recipient,
        Metadata: { ...n.message.metadata },
      };
    }
    default:
      throw new RangeError(`postmark has no ${n.kind} event`);
  }
};

export const postmarkFormat: WebhookFormat = {
  name: 'postmark',
  kinds: KINDS,
  batchSize: 1,
  render: (notifications, context) =>
    record(soleNotification(postmarkFormat, notifications), context),
};
