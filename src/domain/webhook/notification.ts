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
  Unsubscribed,
} from '../message/events.js';
import { readable } from '../message-body/headers.js';

/**
 * What a webhook can tell an application, in our words; each format names them its own way
 * (Mailgun `failed` with a severity, SendGrid `processed`, Postmark `Delivery`, ...).
 */
export const WEBHOOK_EVENT_KINDS = [
  'accepted',
  'delivered',
  'deferred',
  'bounced',
  'dropped',
  'complained',
  'unsubscribed',
  'opened',
  'clicked',
] as const;
export type WebhookEventKind = (typeof WEBHOOK_EVENT_KINDS)[number];

export const isWebhookEventKind = (text: string): text is WebhookEventKind =>
  (WEBHOOK_EVENT_KINDS as readonly string[]).includes(text);

/**
 * The message as a webhook describes it: what MessageAccepted recorded, kept by the outbox
 * so every later event of the message can be rendered without reading its stream.
 */
export interface MessageSummary {
  readonly messageId: string;
  readonly acceptedAt: number;
  readonly source: MessageAccepted['data']['source'];
  readonly credential: { readonly id: string; readonly name: string } | null;
  readonly envelopeFrom: string;
  readonly recipients: readonly string[];
  /** The Message-ID header with its angle brackets, as in the message. */
  readonly messageIdHeader: string | null;
  readonly subject: string | null;
  readonly from: string | null;
  readonly size: number;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly batchId: string | null;
  /** The id the HTTP API answered the client with: this message's own, or its first copy's. */
  readonly apiMessageId: string;
  /** The sending API's message stream, if it named one (Postmark's MessageStream). */
  readonly stream: string | null;
  readonly pool: string | null;
  readonly testMode: boolean;
  readonly scheduledAt: number | null;
}

export const summarizeMessage = (accepted: MessageAccepted['data']): MessageSummary => ({
  messageId: accepted.messageId,
  acceptedAt: accepted.acceptedAt,
  source: accepted.source,
  credential: accepted.credential,
  envelopeFrom: accepted.envelope.from,
  recipients: accepted.envelope.to.map((r) => r.address),
  messageIdHeader: accepted.headers.messageId,
  subject: readable(accepted.headers.subject),
  from: readable(accepted.headers.from),
  size: accepted.size,
  tags: accepted.tags,
  metadata: accepted.metadata,
  batchId: accepted.batchId,
  apiMessageId: accepted.apiMessageId ?? accepted.messageId,
  stream: accepted.stream,
  pool: accepted.pool,
  testMode: accepted.testMode,
  scheduledAt: accepted.scheduledAt,
});

/** The message event behind a notification, by the kind it is told as. */
export type NotifiedEvent =
  | { readonly kind: 'accepted'; readonly event: MessageAccepted }
  | { readonly kind: 'delivered'; readonly event: MessageDelivered }
  | { readonly kind: 'deferred'; readonly event: DeliveryDeferred }
  | { readonly kind: 'bounced'; readonly event: MessageBounced }
  | { readonly kind: 'dropped'; readonly event: RecipientSuppressed }
  | { readonly kind: 'complained'; readonly event: ComplaintReceived }
  | { readonly kind: 'unsubscribed'; readonly event: Unsubscribed }
  | { readonly kind: 'opened'; readonly event: Opened }
  | { readonly kind: 'clicked'; readonly event: Clicked };

/**
 * One thing to tell one endpoint about one recipient of one message. `accepted` names a
 * message with several recipients once per recipient, as the providers do.
 */
export type Notification = NotifiedEvent & {
  readonly recipient: string;
  readonly message: MessageSummary;
  /** The event's global position in the log: unique, and the order per message. */
  readonly position: bigint;
  /** Epoch ms the event happened (its own `at`, or when it was recorded). */
  readonly at: number;
};

const KIND_OF_TYPE: Readonly<Record<MessageEvent['type'], WebhookEventKind | null>> = {
  MessageAccepted: 'accepted',
  MessageSigned: null,
  MessageDelivered: 'delivered',
  DeliveryDeferred: 'deferred',
  MessageBounced: 'bounced',
  RecipientSuppressed: 'dropped',
  ComplaintReceived: 'complained',
  Unsubscribed: 'unsubscribed',
  Opened: 'opened',
  Clicked: 'clicked',
};

export const kindOfEvent = (type: MessageEvent['type']): WebhookEventKind | null =>
  KIND_OF_TYPE[type];

/** The recipients a message event is about: one, except for acceptance (all of them). */
export const recipientsOf = (event: MessageEvent): readonly string[] =>
  event.type === 'MessageAccepted'
    ? event.data.envelope.to.map((r) => r.address)
    : event.type === 'MessageSigned'
      ? []
      : [event.data.recipient];

/** When an event happened: its own time where it has one. */
export const timeOf = (event: MessageEvent, recordedAt: number): number =>
  event.type === 'MessageAccepted'
    ? event.data.acceptedAt
    : event.type === 'MessageSigned'
      ? recordedAt
      : event.data.at;

/** The notifications a message event makes, one per recipient; none for a signature. */
export const notificationsOf = (
  event: MessageEvent,
  message: MessageSummary,
  position: bigint,
  recordedAt: number,
): Notification[] => {
  const kind = kindOfEvent(event.type);
  if (kind === null) return [];
  const at = timeOf(event, recordedAt);
  return recipientsOf(event).map(
    (recipient) => ({ kind, event, recipient, message, position, at }) as Notification,
  );
};
