import { fromDomains } from '../../domain/address/from-domains.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageEvent } from '../../domain/message/events.js';
import {
  normalizeAddress,
  SUPPRESSION_STREAM_PREFIX,
  type Suppression,
  type SuppressionEvent,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression/suppression.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/**
 * Who must not get mail, per list: folded from the `suppression-<scope>` streams (manual
 * adds and removes, imports) and from the message streams (a bounce whose class says the
 * mailbox is gone, or a complaint, suppresses the address for the credential that sent to
 * it, or globally for mail from a trusted network). A later event wins: a manual remove lifts a bounce, a
 * new bounce puts the address back.
 */
export const suppressionsProjection: Projection = {
  name: 'suppressions',
  version: 2,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX, SUPPRESSION_STREAM_PREFIX] },
  tables: {
    entries: `scope TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL,
      added_at INTEGER NOT NULL, expires_at INTEGER, source TEXT,
      PRIMARY KEY (address, scope)`,
    senders: 'message_id TEXT PRIMARY KEY, credential TEXT, from_domain TEXT',
  },
  indexes: { by_scope: 'entries (scope, address)' },
  apply: (db, t, events) => {
    const upsert = statement(
      db,
      `INSERT INTO ${t('entries')} VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (address, scope) DO UPDATE SET reason = excluded.reason,
         added_at = excluded.added_at, expires_at = excluded.expires_at, source = excluded.source`,
    );
    const remove = statement(db, `DELETE FROM ${t('entries')} WHERE address = ? AND scope = ?`);
    const addSender = statement(db, `INSERT OR IGNORE INTO ${t('senders')} VALUES (?, ?, ?)`);
    const senderOf = statement(
      db,
      `SELECT credential, from_domain AS fromDomain FROM ${t('senders')} WHERE message_id = ?`,
    );
    for (const recorded of events) {
      if (recorded.streamName.startsWith(SUPPRESSION_STREAM_PREFIX)) {
        const scope = recorded.streamName.slice(SUPPRESSION_STREAM_PREFIX.length);
        const event = recorded as unknown as RecordedEvent & SuppressionEvent;
        const address = normalizeAddress(event.data.address);
        if (event.type === 'SuppressionAdded')
          upsert.run(
            scope,
            address,
            event.data.reason,
            event.data.at,
            event.data.expiresAt,
            event.data.note,
          );
        else if (event.type === 'SuppressionRemoved') remove.run(address, scope);
        continue;
      }
      const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
      const event = recorded as unknown as RecordedEvent & MessageEvent;
      const sender = () =>
        senderOf.get(messageId) as
          | { credential: string | null; fromDomain: string | null }
          | undefined;
      const scopeOf = () => {
        const credential = sender()?.credential;
        return credential ? `credential:${credential}` : 'global';
      };
      if (event.type === 'MessageAccepted') {
        addSender.run(
          messageId,
          event.data.credential?.name ?? null,
          fromDomains(event.data.headers.from)[0] ?? event.data.envelope.from.split('@')[1] ?? null,
        );
      } else if (event.type === 'Unsubscribed') {
        // The recipient left this sender's mail: the From: domain's list (RFC 8058).
        const domain = sender()?.fromDomain;
        upsert.run(
          domain ? `domain:${domain.toLowerCase()}` : scopeOf(),
          normalizeAddress(event.data.recipient),
          'unsubscribe',
          event.data.at,
          null,
          `message ${messageId}: ${event.data.method}`,
        );
      } else if (event.type === 'ComplaintReceived') {
        upsert.run(
          scopeOf(),
          normalizeAddress(event.data.recipient),
          'complaint',
          event.data.at,
          null,
          `message ${messageId}: ${event.data.feedbackType} report`,
        );
      } else if (
        event.type === 'MessageBounced' &&
        event.data.classification.severity === 'permanent' &&
        event.data.phase !== 'expired' &&
        event.data.phase !== 'admin'
      ) {
        upsert.run(
          scopeOf(),
          normalizeAddress(event.data.recipient),
          'hard-bounce',
          event.data.at,
          null,
          `message ${messageId}: ${event.data.classification.class ?? event.data.classification.category}`,
        );
      }
    }
  },
};

const t = liveTables(suppressionsProjection);

/** The first of these lists the address is on now (an expired entry no longer counts). */
export const findSuppression = (
  db: ReadModelDb,
  address: string,
  scopes: readonly SuppressionScope[],
  now: number,
): Suppression | null => {
  const rows = statement(
    db,
    `SELECT scope, reason FROM ${t('entries')}
     WHERE address = ? AND (expires_at IS NULL OR expires_at > ?)`,
  ).all(normalizeAddress(address), now) as Array<{
    scope: SuppressionScope;
    reason: SuppressionReason;
  }>;
  for (const scope of scopes) {
    const row = rows.find((r) => r.scope === scope);
    if (row) return row;
  }
  return null;
};

export interface SuppressionRow {
  readonly scope: SuppressionScope;
  readonly address: string;
  readonly reason: SuppressionReason;
  readonly addedAt: number;
  readonly expiresAt: number | null;
  readonly source: string | null;
}

/** Entries in force, by scope then address, read lazily (an export may be millions). */
export function* listSuppressions(
  db: ReadModelDb,
  query: { readonly scope?: SuppressionScope; readonly now: number },
): Generator<SuppressionRow> {
  const where = ['(expires_at IS NULL OR expires_at > ?)'];
  const params: unknown[] = [query.now];
  if (query.scope) {
    where.push('scope = ?');
    params.push(query.scope);
  }
  // Not the shared cache: an iterating statement is busy until the caller finishes.
  const select = db.prepare(
    `SELECT scope, address, reason, added_at AS addedAt, expires_at AS expiresAt, source
     FROM ${t('entries')} WHERE ${where.join(' AND ')} ORDER BY scope, address`,
  );
  yield* select.iterate(...params) as Iterable<SuppressionRow>;
}
