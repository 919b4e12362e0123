import type { Notification, WebhookEventKind } from '../webhook/notification.js';

export const WEBHOOK_FORMAT_NAMES = ['mailgun', 'sendgrid', 'postmark', 'native'] as const;
export type WebhookFormatName = (typeof WEBHOOK_FORMAT_NAMES)[number];

/** What a payload needs beyond the notifications, given by the caller (no clock, no dice). */
export interface RenderContext {
  /** Epoch ms the request is sent. */
  readonly sentAt: number;
  /** The relay's host name (SendGrid's smtp-id, Postmark's ServerID source, ...). */
  readonly hostname: string;
  /**
   * Mailgun's envelope `signature` object, computed by the caller over the timestamp and
   * token with the endpoint's signing key; null for other formats.
   */
  readonly mailgunSignature: {
    readonly timestamp: string;
    readonly token: string;
    readonly signature: string;
  } | null;
}

/**
 * One provider's webhook payloads. Pure: the same notifications and context give the same
 * JSON value; the HTTP request (headers, signatures over the bytes) is built around it.
 */
export interface WebhookFormat {
  readonly name: WebhookFormatName;
  /** The kinds this provider has a webhook event for; the others are never sent to it. */
  readonly kinds: ReadonlySet<WebhookEventKind>;
  /** Notifications one request carries: SendGrid posts arrays, the others one event each. */
  readonly batchSize: number;
  /** The request body's JSON value for these notifications (at most batchSize of them). */
  readonly render: (notifications: readonly Notification[], context: RenderContext) => unknown;
}
