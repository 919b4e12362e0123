import type { MessageBounced, RecipientSuppressed } from '../message/events.js';
import { effectiveEnhancedCode, formatSmtpReply } from '../smtp-reply/smtp-reply.js';
import { type Notification, WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
import { checkBatch } from './batch.js';
import { messageIdHeaderOf, notificationEventId, stableNumber } from './notification-ids.js';
import type { RenderContext, WebhookFormat } from './webhook-format.js';

/**
 * SendGrid's Event Webhook: a JSON array of flat events (the HTTP layer writes them one per
 * CRLF line, as SendGrid's signed bodies are). Fields follow SendGrid's Event Webhook
 * reference; every key we send is one anymail's SendGrid parser knows (its
 * `sendgrid_event_keys`), plus `sg_machine_open`, so the rest of an event reads as the
 * application's own custom args.
 */

type Json = Readonly<Record<string, unknown>>;

/**
 * SendGrid's own drop reasons. A manual entry is the sender's own do-not-send list, which in
 * SendGrid is the global unsubscribe list (and anymail reads Postmark's ManualSuppression as
 * an unsubscribe too), rather than `Invalid`, which would claim the address is malformed.
 */
const DROP_REASON: Readonly<Record<RecipientSuppressed['data']['reason'], string>> = {
  'hard-bounce': 'Bounced Address',
  unsubscribe: 'Unsubscribed Address',
  complaint: 'Spam Reporting Address',
  manual: 'Unsubscribed Address',
};

/**
 * `bounce` is SendGrid's hard bounce, `blocked` its temporary block: only a permanent
 * severity says the mailbox is gone; a policy refusal (our IP or content) and a transient
 * failure, expiry included, may work another day.
 */
const bounceType = (data: MessageBounced['data']): 'bounce' | 'blocked' =>
  data.classification.severity === 'permanent' ? 'bounce' : 'blocked';

const seconds = (ms: number): number => Math.floor(ms / 1000);

const sendingIp = (ip: string | null): Json => (ip === null ? {} : { ip });

const common = (n: Notification, event: string, context: RenderContext): Json => ({
  email: n.recipient,
  timestamp: seconds(n.at),
  event,
  'smtp-id': messageIdHeaderOf(n.message, context.hostname),
  sg_event_id: notificationEventId(n),
  // SendGrid's begins with the X-Message-Id the send answered with (our batch id), and
  // applications match on that prefix; ours goes on with the message's own id.
  sg_message_id: n.message.batchId
    ? `${n.message.batchId}.${n.message.messageId}`
    : n.message.messageId,
  // SendGrid echoes a single category as a string when it was sent as one; the tags do not
  // remember how they were sent, so an array, which is also what every multi-category send
  // gets back.
  ...(n.message.tags.length === 0 ? {} : { category: [...n.message.tags] }),
  ...(n.message.scheduledAt === null ? {} : { send_at: seconds(n.message.scheduledAt) }),
});

const ownFields = (n: Notification, context: RenderContext): Json => {
  switch (n.kind) {
    case 'accepted':
      return {
        ...common(n, 'processed', context),
        ...(n.message.pool === null
          ? {}
          : { pool: { name: n.message.pool, id: stableNumber(n.message.pool) } }),
      };
    case 'dropped':
      return {
        ...common(n, 'dropped', context),
        reason: DROP_REASON[n.event.data.reason],
        status: '5.0.0',
      };
    case 'delivered': {
      const { reply, remote } = n.event.data;
      return {
        ...common(n, 'delivered', context),
        response: formatSmtpReply(reply),
        tls: remote.tls ? 1 : 0,
        ...sendingIp(remote.sourceIp),
      };
    }
    case 'deferred': {
      const { reply, remote, attempt } = n.event.data;
      return {
        ...common(n, 'deferred', context),
        response: formatSmtpReply(reply),
        attempt: String(attempt),
        ...sendingIp(remote.sourceIp),
      };
    }
    case 'bounced': {
      const { reply, remote } = n.event.data;
      return {
        ...common(n, 'bounce', context),
        reason: formatSmtpReply(reply),
        status: effectiveEnhancedCode(reply),
        type: bounceType(n.event.data),
        tls: remote.tls ? 1 : 0,
        ...sendingIp(remote.sourceIp),
      };
    }
    case 'complained':
      return common(n, 'spamreport', context);
    case 'unsubscribed':
      return common(n, 'unsubscribe', context);
    case 'opened': {
      const { userAgent, ip, machine } = n.event.data;
      return {
        ...common(n, 'open', context),
        useragent: userAgent ?? '',
        ...(ip === null ? {} : { ip }),
        // SendGrid flags Apple Mail Privacy Protection prefetches only.
        sg_machine_open: machine === 'apple',
      };
    }
    case 'clicked': {
      const { userAgent, ip, url } = n.event.data;
      return {
        ...common(n, 'click', context),
        useragent: userAgent ?? '',
        ...(ip === null ? {} : { ip }),
        url,
      };
    }
  }
};

/** Custom args ride along as top-level keys; where one clashes, SendGrid's own key wins. */
const event = (n: Notification, context: RenderContext): Json => {
  const own = ownFields(n, context);
  const custom = Object.entries(n.message.metadata).filter(([key]) => !Object.hasOwn(own, key));
  return { ...own, ...Object.fromEntries(custom) };
};

export const sendgridFormat: WebhookFormat = {
  name: 'sendgrid',
  kinds: new Set(WEBHOOK_EVENT_KINDS),
  // SendGrid batches by time and size and documents no event count; 100 keeps a body small
  // (about 100 KB) and bounds what one failed request sends again.
  batchSize: 100,
  render: (notifications, context) =>
    checkBatch(sendgridFormat, notifications).map((n) => event(n, context)),
};
