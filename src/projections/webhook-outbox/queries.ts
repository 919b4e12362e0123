import type { MessageEvent } from '../../domain/message/events.js';
import type { MessageSummary, Notification } from '../../domain/webhook/notification.js';
import type { WebhookFormatName } from '../../domain/webhook-format/webhook-format.js';
import { liveTables } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';
import { webhookOutboxProjection } from './webhook-outbox.js';

const t = liveTables(webhookOutboxProjection);

/** A notification due at an endpoint, with what it takes to render and settle it. */
export interface DueNotification {
  readonly webhookId: string;
  readonly url: string;
  readonly format: WebhookFormatName;
  /** Attempts made in this generation so far; the next is attempts + 1. */
  readonly attempts: number;
  readonly generation: number;
  readonly notification: Notification;
}

interface DueRow {
  webhook_id: string;
  url: string;
  format: WebhookFormatName;
  position: bigint;
  recipient: string;
  message_id: string;
  kind: Notification['kind'];
  at: bigint;
  attempts: bigint;
  generation: bigint;
  type: MessageEvent['type'];
  data: string;
  summary: string;
}

/**
 * Notifications due by `now`, oldest first, each the first one still pending for its
 * message at its endpoint: a message's events reach an endpoint in the order they happened,
 * and one that keeps failing holds back only the later events of that message.
 */
export const dueNotifications = (
  db: ReadModelDb,
  now: number,
  limit: number,
  webhookId: string,
): DueNotification[] =>
  (
    statement(
      db,
      `SELECT d.webhook_id, e.url, e.format, d.position, d.recipient, d.message_id, d.kind, d.at,
         d.attempts, d.generation, v.type, v.data, m.summary
       FROM ${t('deliveries')} d
       JOIN ${t('endpoints')} e USING (webhook_id)
       JOIN ${t('events')} v USING (position)
       JOIN ${t('messages')} m ON m.message_id = d.message_id
       WHERE d.webhook_id = ? AND d.status = 'pending' AND d.next_at <= ?
         AND NOT EXISTS (
           SELECT 1 FROM ${t('deliveries')} p
           WHERE p.webhook_id = d.webhook_id AND p.message_id = d.message_id
             AND p.status = 'pending'
             AND (p.position < d.position OR (p.position = d.position AND p.recipient < d.recipient)))
       ORDER BY d.next_at, d.position
       LIMIT ?`,
    )
      .safeIntegers(true)
      .all(webhookId, now, limit) as DueRow[]
  ).map((r) => ({
    webhookId: r.webhook_id,
    url: r.url,
    format: r.format,
    attempts: Number(r.attempts),
    generation: Number(r.generation),
    notification: {
      kind: r.kind,
      event: { type: r.type, data: JSON.parse(r.data) },
      recipient: r.recipient,
      message: JSON.parse(r.summary) as MessageSummary,
      position: r.position,
      at: Number(r.at),
    } as Notification,
  }));

/** The endpoints still in place, and their formats. */
export const activeWebhooks = (
  db: ReadModelDb,
): Array<{ readonly webhookId: string; readonly format: WebhookFormatName }> =>
  statement(
    db,
    `SELECT webhook_id AS webhookId, format FROM ${t('endpoints')} WHERE status = 'active'`,
  ).all() as Array<{ webhookId: string; format: WebhookFormatName }>;

/** When the next pending notification falls due; null when none is pending. */
export const nextDueAt = (db: ReadModelDb): number | null => {
  const row = statement(
    db,
    `SELECT MIN(next_at) AS at FROM ${t('deliveries')} WHERE status = 'pending'`,
  ).get() as { at: number | null };
  return row.at;
};

export interface WebhookRow {
  readonly webhookId: string;
  readonly credentialId: string;
  readonly url: string;
  readonly format: WebhookFormatName;
  readonly events: readonly string[];
  readonly publicKey: string | null;
  readonly status: 'active' | 'removed';
  readonly createdAt: number;
  /** Notifications waiting (due or retrying), and given up on. */
  readonly pending: number;
  readonly dead: number;
}

interface EndpointRow {
  webhook_id: string;
  credential_id: string;
  url: string;
  format: WebhookFormatName;
  events: string;
  public_key: string | null;
  status: 'active' | 'removed';
  created_at: number;
  pending: number;
  dead: number;
}

const toWebhook = (r: EndpointRow): WebhookRow => ({
  webhookId: r.webhook_id,
  credentialId: r.credential_id,
  url: r.url,
  format: r.format,
  events: JSON.parse(r.events),
  publicKey: r.public_key,
  status: r.status,
  createdAt: r.created_at,
  pending: r.pending,
  dead: r.dead,
});

const ENDPOINT_COLUMNS = `e.*,
  (SELECT COUNT(*) FROM ${t('deliveries')} d
   WHERE d.webhook_id = e.webhook_id AND d.status = 'pending') AS pending,
  (SELECT COUNT(*) FROM ${t('deliveries')} d
   WHERE d.webhook_id = e.webhook_id AND d.status = 'dead') AS dead`;

export const listWebhooks = (db: ReadModelDb, credentialId?: string): WebhookRow[] =>
  (
    statement(
      db,
      `SELECT ${ENDPOINT_COLUMNS} FROM ${t('endpoints')} e
       WHERE ? IS NULL OR e.credential_id = ? ORDER BY e.created_at`,
    ).all(credentialId ?? null, credentialId ?? null) as EndpointRow[]
  ).map(toWebhook);

export const findWebhook = (db: ReadModelDb, webhookId: string): WebhookRow | null => {
  const row = statement(
    db,
    `SELECT ${ENDPOINT_COLUMNS} FROM ${t('endpoints')} e WHERE e.webhook_id = ?`,
  ).get(webhookId) as EndpointRow | undefined;
  return row ? toWebhook(row) : null;
};

export interface AttemptRow {
  readonly webhookId: string;
  readonly kind: string;
  readonly recipient: string;
  readonly position: bigint;
  readonly attempt: number;
  readonly generation: number;
  readonly at: number;
  readonly durationMs: number;
  readonly status: number | null;
  readonly error: string | null;
  readonly outcome: string;
  readonly nextAt: number | null;
}

/** Every attempt to tell any endpoint about a message, in the order they were made. */
export const attemptsOfMessage = (db: ReadModelDb, messageId: string): AttemptRow[] =>
  (
    statement(
      db,
      `SELECT a.webhook_id, d.kind, a.recipient, a.position, a.attempt, a.generation, a.at,
         a.duration_ms, a.status, a.error, a.outcome, a.next_at
       FROM ${t('attempts')} a
       LEFT JOIN ${t('deliveries')} d USING (webhook_id, position, recipient)
       WHERE a.message_id = ? ORDER BY a.at, a.position`,
    )
      .safeIntegers(true)
      .all(messageId) as Array<Record<string, bigint | string | null>>
  ).map((r) => ({
    webhookId: String(r.webhook_id),
    kind: String(r.kind ?? ''),
    recipient: String(r.recipient),
    position: r.position as bigint,
    attempt: Number(r.attempt),
    generation: Number(r.generation),
    at: Number(r.at),
    durationMs: Number(r.duration_ms),
    status: r.status === null ? null : Number(r.status),
    error: r.error === null ? null : String(r.error),
    outcome: String(r.outcome),
    nextAt: r.next_at === null ? null : Number(r.next_at),
  }));

/** Notifications of a message still waiting for an endpoint, or given up on. */
export const deliveriesOfMessage = (
  db: ReadModelDb,
  messageId: string,
): Array<{
  webhookId: string;
  kind: string;
  recipient: string;
  status: string;
  attempts: number;
}> =>
  statement(
    db,
    `SELECT webhook_id AS webhookId, kind, recipient, status, attempts
     FROM ${t('deliveries')} WHERE message_id = ? ORDER BY position, recipient`,
  ).all(messageId) as Array<{
    webhookId: string;
    kind: string;
    recipient: string;
    status: string;
    attempts: number;
  }>;
