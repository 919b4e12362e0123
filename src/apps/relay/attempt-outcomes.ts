import { domainOf } from '../../domain/address/address.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageEvent } from '../../domain/message/events.js';
import type { SmtpReply } from '../../domain/smtp-reply/smtp-reply.js';

/** One recipient's outcome of one attempt, read from the log as it is written. */
export interface AttemptOutcome {
  readonly at: number;
  readonly messageId: string;
  readonly domain: string;
  readonly site: string;
  readonly source: string | null;
  readonly credential: string | null;
  readonly outcome: 'delivered' | 'deferred' | 'bounced';
  readonly reply: SmtpReply;
}

const OUTCOME = {
  MessageDelivered: 'delivered',
  DeliveryDeferred: 'deferred',
  MessageBounced: 'bounced',
} as const;

/**
 * The attempt outcomes among freshly written events: what the throttle windows count and
 * the reply rules react to. Queue bounces are not attempts (nothing was sent), and events
 * from before attempts named their site are skipped.
 */
export const attemptOutcomes = (
  events: readonly RecordedEvent[],
  credentialOf: (messageId: string) => string | null,
): AttemptOutcome[] => {
  const outcomes: AttemptOutcome[] = [];
  for (const recorded of events) {
    const event = recorded as unknown as RecordedEvent & MessageEvent;
    if (
      event.type !== 'MessageDelivered' &&
      event.type !== 'DeliveryDeferred' &&
      event.type !== 'MessageBounced'
    )
      continue;
    const d = event.data;
    if (!d.site || (event.type === 'MessageBounced' && event.data.phase === 'admin')) continue;
    const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
    outcomes.push({
      at: d.at,
      messageId,
      domain: domainOf(d.recipient),
      site: d.site,
      source: d.source,
      credential: credentialOf(messageId),
      outcome: OUTCOME[event.type],
      reply: d.reply,
    });
  }
  return outcomes;
};
