import { type Notification, WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
import { soleNotification } from './batch.js';
import type { WebhookFormat } from './webhook-format.js';

/**
 * mailtrail's own payload: every kind, the event exactly as the log recorded it, and the
 * message it belongs to. Versioned by `schema` so it can grow without breaking receivers;
 * the log position is a decimal string because JSON numbers lose precision past 2^53.
 */
export const NATIVE_SCHEMA = 'mailtrail.webhook/1';

const payload = (n: Notification) => ({
  schema: NATIVE_SCHEMA,
  kind: n.kind,
  position: n.position.toString(),
  at: new Date(n.at).toISOString(),
  recipient: n.recipient,
  event: { type: n.event.type, data: n.event.data },
  message: { ...n.message },
});

export const nativeFormat: WebhookFormat = {
  name: 'native',
  kinds: new Set(WEBHOOK_EVENT_KINDS),
  batchSize: 1,
  render: (notifications) => payload(soleNotification(nativeFormat, notifications)),
};
