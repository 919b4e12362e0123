import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import type { WebhookAttempted } from '../../domain/webhook/attempt.js';

/** A notification an attempt settled: the dispatcher may forget it was sent. */
export interface SettledKey {
  readonly webhookId: string;
  readonly position: string;
  readonly recipient: string;
}

/**
 * The delivery thread folds the webhook outbox with every other projection (one read of
 * the log for all of them) and tells the webhook thread, which only posts, that the outbox
 * changed, over a BroadcastChannel named after the read-model file.
 */
export const outboxNewsChannel = (projectionsPath: string) =>
  new BroadcastChannel(`mailtrail-webhook-outbox:${resolve(projectionsPath)}`);

export type OutboxNews = ReturnType<typeof outboxNews>;

/** What to broadcast once the outbox applied these events. */
export const outboxNews = (events: readonly RecordedEvent[]): { settled: SettledKey[] } => ({
  settled: events
    .filter((e) => e.type === 'WebhookAttempted')
    .flatMap((e) => {
      const data = e.data as WebhookAttempted['data'];
      return data.deliveries.map((d) => ({
        webhookId: data.webhookId,
        position: d.position,
        recipient: d.recipient,
      }));
    }),
});
