import { z } from 'zod';
import type { WebhookFormatName } from '../webhook-format/webhook-format.js';

/**
 * One POST to an endpoint and what came of it: the per-attempt log, and how the outbox
 * knows what is done. They go to a stream of their own per endpoint, apart from the
 * endpoint's settings, since there is one for every request sent.
 */
export const WebhookAttemptedSchema = z.object({
  webhookId: z.string().min(1),
  /** The notifications the request carried (a SendGrid batch carries several). */
  deliveries: z
    .array(
      z.object({
        messageId: z.string(),
        /** The event's global position, as a decimal string (JSON has no bigint). */
        position: z.string().regex(/^\d+$/),
        recipient: z.string(),
      }),
    )
    .min(1),
  /** 1 for the first try; counts again from 1 after a replay (a new generation). */
  attempt: z.number().int().positive(),
  generation: z.number().int().nonnegative(),
  at: z.number().int(),
  durationMs: z.number().int().nonnegative(),
  /** The HTTP status; null when no answer came (refused, reset, timed out). */
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  outcome: z.enum(['delivered', 'rejected', 'retry', 'dead']),
  nextAttemptAt: z.number().int().nullable(),
});

export type WebhookAttempted = {
  type: 'WebhookAttempted';
  data: z.infer<typeof WebhookAttemptedSchema>;
};
export type AttemptOutcome = WebhookAttempted['data']['outcome'];

export const WEBHOOK_ATTEMPTS_STREAM_PREFIX = 'webhook-attempts-';
export const webhookAttemptsStream = (webhookId: string): string =>
  `${WEBHOOK_ATTEMPTS_STREAM_PREFIX}${webhookId}`;

/**
 * Mailgun's schedule: after the first try, 10m, 10m, 15m, 30m, 1h, 2h and 4h (about 8 hours
 * in all), then the notification is dead-lettered.
 */
export const MAILGUN_RETRY_SCHEDULE: readonly number[] = [10, 10, 15, 30, 60, 120, 240].map(
  (minutes) => minutes * 60_000,
);

/**
 * What an answer means for the notifications it carried. Any 2xx is done; Mailgun's 406
 * means "rejected, do not retry" (only for the Mailgun format: to others a 406 is an error
 * like any other); anything else, or no answer, is tried again on the schedule, and after
 * its last step the notifications are dead.
 */
export const attemptOutcome = (
  format: WebhookFormatName,
  status: number | null,
  attempt: number,
  at: number,
  schedule: readonly number[],
): { readonly outcome: AttemptOutcome; readonly nextAttemptAt: number | null } => {
  if (status !== null && status >= 200 && status < 300)
    return { outcome: 'delivered', nextAttemptAt: null };
  if (format === 'mailgun' && status === 406) return { outcome: 'rejected', nextAttemptAt: null };
  const wait = schedule[attempt - 1];
  return wait === undefined
    ? { outcome: 'dead', nextAttemptAt: null }
    : { outcome: 'retry', nextAttemptAt: at + wait };
};
