import type { Lane } from '../../domain/message/events.js';
import type { SmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { liveTables } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';
import { deliveryQueueProjection } from './delivery-queue.js';

const t = liveTables(deliveryQueueProjection);

/** `test`: accepted in test mode, never sent. */
export type RecipientStatus =
  | 'queued'
  | 'deferred'
  | 'delivered'
  | 'bounced'
  | 'suppressed'
  | 'test';

export interface RecipientRow {
  readonly messageId: string;
  readonly recipient: string;
  readonly domain: string;
  readonly status: RecipientStatus;
  readonly attempts: number;
  readonly dueAt: number;
  readonly acceptedAt: number;
  readonly updatedAt: number;
  readonly sender: string;
  readonly subject: string | null;
  readonly source: string;
  readonly credential: string | null;
  readonly lastReply: SmtpReply | null;
}

interface Row {
  message_id: string;
  recipient: string;
  domain: string;
  status: RecipientStatus;
  attempts: number;
  due_at: number;
  accepted_at: number;
  updated_at: number;
  sender: string;
  subject: string | null;
  source: string;
  credential: string | null;
  last_reply: string | null;
}

const toRecipient = (r: Row): RecipientRow => ({
  messageId: r.message_id,
  recipient: r.recipient,
  domain: r.domain,
  status: r.status,
  attempts: r.attempts,
  dueAt: r.due_at,
  acceptedAt: r.accepted_at,
  updatedAt: r.updated_at,
  sender: r.sender,
  subject: r.subject,
  source: r.source,
  credential: r.credential,
  lastReply: r.last_reply ? JSON.parse(r.last_reply) : null,
});

export interface DueWork {
  readonly messageId: string;
  readonly domain: string;
  readonly lane: Lane;
  /** The egress pool the message asked for; null: the default pool. */
  readonly pool: string | null;
}

/** A node's partitions (null: it delivers for every partition, alone). */
export type Partitions = readonly number[] | null;

/** The SQL condition and parameter that keep a node to its partitions. */
const inPartitions = (partitions: Partitions): { sql: string; params: unknown[] } =>
  partitions === null
    ? { sql: '', params: [] }
    : {
        sql: 'AND partition IN (SELECT value FROM json_each(?))',
        params: [JSON.stringify(partitions)],
      };

/**
 * (message, domain) pairs with a recipient due at `now`: every lane's oldest due first,
 * transactional before bulk, up to `limit` per lane (a bulk backlog never hides
 * transactional work). Few columns: the delivery loop runs this every few milliseconds.
 * `skip` leaves out domains that cannot go now, so their backlog hides no other domain's
 * work (the index is walked past them: the loop asks this way only now and then).
 */
export const dueWork = (
  db: ReadModelDb,
  now: number,
  limit: number,
  skip: readonly string[] = [],
  partitions: Partitions = null,
): DueWork[] => {
  // No partitions (a node waiting for its share): nothing, without walking the whole queue.
  if (partitions?.length === 0) return [];
  const mine = inPartitions(partitions);
  const skipping = skip.length > 0 ? 'AND domain NOT IN (SELECT value FROM json_each(?))' : '';
  const query = statement(
    db,
    `SELECT message_id AS messageId, domain, lane, pool FROM ${t('recipients')}
     WHERE lane = ? AND status IN ('queued', 'deferred') AND due_at <= ? ${skipping} ${mine.sql}
     ORDER BY due_at LIMIT ?`,
  );
  const skipParams = skip.length > 0 ? [JSON.stringify(skip)] : [];
  return (['transactional', 'bulk'] as const).flatMap(
    (lane) => query.all(lane, now, ...skipParams, ...mine.params, limit) as DueWork[],
  );
};

/** Every (message, domain) with a recipient still to send at these domains, due or not. */
export const pendingWorkAt = (
  db: ReadModelDb,
  domains: readonly string[],
  partitions: Partitions = null,
): DueWork[] => {
  if (partitions?.length === 0) return [];
  const mine = inPartitions(partitions);
  return statement(
    db,
    `SELECT DISTINCT message_id AS messageId, domain, lane, pool FROM ${t('recipients')}
     WHERE status IN ('queued', 'deferred') AND domain IN (SELECT value FROM json_each(?)) ${mine.sql}`,
  ).all(JSON.stringify(domains), ...mine.params) as DueWork[];
};

/** When the next deferred recipient falls due, if any (per lane: each an index lookup). */
export const nextDueAt = (db: ReadModelDb, partitions: Partitions = null): number | null => {
  if (partitions?.length === 0) return null;
  const mine = inPartitions(partitions);
  const query = statement(
    db,
    `SELECT min(due_at) AS due FROM ${t('recipients')}
     WHERE lane = ? AND status IN ('queued', 'deferred') ${mine.sql}`,
  );
  const dues = (['transactional', 'bulk'] as const)
    .map((lane) => (query.get(lane, ...mine.params) as { due: number | null }).due)
    .filter((d): d is number => d !== null);
  return dues.length === 0 ? null : Math.min(...dues);
};

export interface ListFilter {
  readonly recipient?: string;
  readonly status?: RecipientStatus;
  readonly since?: number;
  readonly limit?: number;
}

export const listRecipients = (db: ReadModelDb, filter: ListFilter): RecipientRow[] => {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.recipient) {
    where.push('recipient = ?');
    params.push(filter.recipient);
  }
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.since !== undefined) {
    where.push('accepted_at >= ?');
    params.push(filter.since);
  }
  const sql = `SELECT * FROM ${t('recipients')} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY accepted_at DESC, message_id DESC LIMIT ?`;
  return (statement(db, sql).all(...params, filter.limit ?? 100) as Row[]).map(toRecipient);
};

export const countByStatus = (db: ReadModelDb): Record<RecipientStatus, number> => {
  const counts: Record<RecipientStatus, number> = {
    queued: 0,
    deferred: 0,
    delivered: 0,
    bounced: 0,
    suppressed: 0,
    test: 0,
  };
  for (const row of statement(
    db,
    `SELECT status, count(*) AS n FROM ${t('recipients')} GROUP BY status`,
  ).all() as Array<{ status: RecipientStatus; n: number }>)
    counts[row.status] = row.n;
  return counts;
};

/** The credential a message was submitted with (null: a trusted network, or unknown). */
export const credentialOf = (db: ReadModelDb, messageId: string): string | null => {
  const row = statement(
    db,
    `SELECT credential FROM ${t('recipients')} WHERE message_id = ? LIMIT 1`,
  ).get(messageId) as { credential: string | null } | undefined;
  return row?.credential ?? null;
};
