import type { Logger } from 'pino';
import { postWebhook } from '../../adapters/webhook-http/post-webhook.js';
import { buildWebhookRequest } from '../../adapters/webhook-http/webhook-request.js';
import type { WebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  attemptOutcome,
  type WebhookAttempted,
  WebhookAttemptedSchema,
  webhookAttemptsStream,
} from '../../domain/webhook/attempt.js';
import { webhookFormat } from '../../domain/webhook-format/formats.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import {
  activeWebhooks,
  type DueNotification,
  dueNotifications,
  nextDueAt,
} from '../../projections/webhook-outbox/queries.js';
import type { SettledKey } from './outbox-news.js';

export interface WebhookDispatcherDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly secrets: WebhookSecretStore;
  readonly hostname: string;
  /** Waits between attempts, ms: after the first try, then after each retry. */
  readonly retrySchedule: readonly number[];
  readonly timeoutMs: number;
  /** Requests in flight at once, in all. */
  readonly maxInFlight: number;
  /** Requests in flight at once to one endpoint: a slow one holds only its own. */
  readonly perEndpoint: number;
  readonly newEventId: () => string;
  /**
   * Several nodes sharing the work: whether this endpoint is this node's to post to, so each
   * notification goes out from one node and the per-endpoint limit holds cluster-wide.
   */
  readonly ownsEndpoint?: (webhookId: string) => boolean;
  readonly now: () => number;
  readonly log: Logger;
}

const deliveryKey = (webhookId: string, position: bigint | string, recipient: string): string =>
  `${webhookId} ${position} ${recipient}`;
const keyOf = (d: DueNotification): string =>
  deliveryKey(d.webhookId, d.notification.position, d.notification.recipient);

/**
 * Posts what the outbox says is due and records every attempt as a WebhookAttempted event;
 * the outbox projection folds those back into what is done, due again, or dead. Until an
 * attempt is folded in, its notifications are remembered here so they are not sent twice.
 */
export const createWebhookDispatcher = (deps: WebhookDispatcherDeps) => {
  // Notifications sent (or being sent), by key: the generation and attempt they went out as.
  const sent = new Map<string, { readonly generation: number; readonly attempt: number }>();
  const activePerEndpoint = new Map<string, number>();
  let inFlight = 0;
  let stopped = false;
  const stopping = new AbortController();
  let wake: (() => void) | null = null;
  let woken = false;
  const notify = (): void => {
    woken = true;
    wake?.();
  };

  /** Settled by the projection yet? Then the outbox row, not memory, says what is next. */
  const isAwaited = (d: DueNotification): boolean => {
    const key = keyOf(d);
    const mine = sent.get(key);
    if (!mine) return false;
    if (mine.generation === d.generation && mine.attempt > d.attempts) return true;
    sent.delete(key);
    return false;
  };

  const send = async (batch: readonly DueNotification[]): Promise<void> => {
    const first = batch[0] as DueNotification;
    const format = webhookFormat(first.format);
    const attempt = Math.max(...batch.map((d) => d.attempts)) + 1;
    const secrets = deps.secrets.load(first.webhookId);
    const at = deps.now();
    const result = secrets
      ? await postWebhook(
          first.url,
          buildWebhookRequest(
            format,
            batch.map((d) => d.notification),
            secrets,
            { sentAt: at, hostname: deps.hostname },
          ),
          deps.timeoutMs,
          { signal: stopping.signal, now: deps.now },
        )
      : {
          status: null,
          error: 'the webhook signing secrets are missing from the key store',
          durationMs: 0,
        };
    // Stopped mid-request: nothing is known, so nothing is recorded; it goes again at start.
    if (stopping.signal.aborted && result.status === null) return;
    const { outcome, nextAttemptAt } = attemptOutcome(
      first.format,
      result.status,
      attempt,
      at,
      deps.retrySchedule,
    );
    const data: WebhookAttempted['data'] = {
      webhookId: first.webhookId,
      deliveries: batch.map((d) => ({
        messageId: d.notification.message.messageId,
        position: d.notification.position.toString(),
        recipient: d.notification.recipient,
      })),
      attempt,
      generation: first.generation,
      at,
      durationMs: result.durationMs,
      status: result.status,
      error: result.error,
      outcome,
      nextAttemptAt,
    };
    if (outcome !== 'delivered')
      deps.log.warn(
        {
          webhook: first.webhookId,
          url: first.url,
          attempt,
          status: result.status,
          error: result.error,
          outcome,
        },
        'webhook attempt failed',
      );
    await deps.store.appendToStream(
      webhookAttemptsStream(first.webhookId),
      [
        {
          eventId: deps.newEventId(),
          type: 'WebhookAttempted',
          data: WebhookAttemptedSchema.parse(data),
        },
      ],
      { expectedRevision: 'any' },
    );
  };

  const launch = (batch: readonly DueNotification[]): void => {
    const first = batch[0] as DueNotification;
    const attempt = Math.max(...batch.map((d) => d.attempts)) + 1;
    for (const d of batch) sent.set(keyOf(d), { generation: d.generation, attempt });
    inFlight++;
    activePerEndpoint.set(first.webhookId, (activePerEndpoint.get(first.webhookId) ?? 0) + 1);
    send(batch)
      .catch((error) => {
        // Not recorded: forget it was sent, so it goes again.
        for (const d of batch) sent.delete(keyOf(d));
        deps.log.error(
          { err: error, webhook: first.webhookId },
          'could not record a webhook attempt',
        );
      })
      .finally(() => {
        inFlight--;
        activePerEndpoint.set(first.webhookId, (activePerEndpoint.get(first.webhookId) ?? 1) - 1);
        notify();
      });
  };

  /** Starts what is due and may start now; returns when to look again at the latest. */
  const dispatch = (): number | null => {
    const now = deps.now();
    for (const endpoint of activeWebhooks(deps.readDb)) {
      if (deps.ownsEndpoint && !deps.ownsEndpoint(endpoint.webhookId)) continue;
      const size = webhookFormat(endpoint.format).batchSize;
      const free = () =>
        Math.min(
          deps.perEndpoint - (activePerEndpoint.get(endpoint.webhookId) ?? 0),
          deps.maxInFlight - inFlight,
        );
      if (free() <= 0) continue;
      // Enough for the free slots, past what is sent but not yet folded in: a small read
      // per endpoint, however long the backlog.
      const due = dueNotifications(
        deps.readDb,
        now,
        2 * deps.perEndpoint * size,
        endpoint.webhookId,
      );
      const ready = due.filter((d) => !isAwaited(d));
      for (let i = 0; i < ready.length && free() > 0; i += size) launch(ready.slice(i, i + size));
    }
    return nextDueAt(deps.readDb);
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      woken = false;
      let next: number | null = null;
      try {
        next = dispatch();
      } catch (error) {
        deps.log.error({ err: error }, 'webhook dispatch failed');
        next = deps.now() + 1000;
      }
      if (woken) continue;
      // Wait for news (new notifications, a settled attempt) or the next retry falling due.
      // Something due that could not start waits behind a full endpoint (whose answers wake
      // this) or behind its message's earlier notification (retried later): look again in
      // a second rather than spin.
      const untilNext = next === null ? 60_000 : next - deps.now();
      const waitMs = untilNext <= 0 ? 1000 : Math.min(60_000, Math.max(10, untilNext));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  };

  /** The outbox changed; these attempts are folded in: their rows say what comes next. */
  const observe = (settled: readonly SettledKey[]): void => {
    for (const d of settled) sent.delete(deliveryKey(d.webhookId, d.position, d.recipient));
    notify();
  };

  let running: Promise<void> = Promise.resolve();
  return {
    notify,
    observe,
    start: (): void => {
      running = loop();
    },
    stop: async (): Promise<void> => {
      stopped = true;
      stopping.abort();
      notify();
      await running;
      // In-flight requests end at once (aborted) and record nothing.
      while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    },
  };
};
