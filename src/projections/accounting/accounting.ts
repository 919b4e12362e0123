import {
  ACCT_FIELDS,
  type AcceptedFacts,
  type AcctRecord,
  acctRecord,
  factsFromAccepted,
} from '../../domain/accounting/acct-record.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageEvent } from '../../domain/message/events.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/** The accounting log: one row per delivered (d), bounced (b) or deferred (t) recipient. */
export const accountingProjection: Projection = {
  name: 'accounting',
  version: 1,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX] },
  tables: {
    messages: 'message_id TEXT PRIMARY KEY, facts TEXT NOT NULL',
    records: `position INTEGER PRIMARY KEY, logged_at INTEGER NOT NULL, ${ACCT_FIELDS.map(
      (f) => `"${f}" TEXT NOT NULL`,
    ).join(', ')}`,
  },
  indexes: { by_time: 'records (logged_at)' },
  apply: (db, t, events) => {
    const insertFacts = statement(db, `INSERT OR REPLACE INTO ${t('messages')} VALUES (?, ?)`);
    const selectFacts = statement(db, `SELECT facts FROM ${t('messages')} WHERE message_id = ?`);
    const insertRecord = statement(
      db,
      `INSERT OR REPLACE INTO ${t('records')} VALUES (?, ?, ${ACCT_FIELDS.map(() => '?').join(', ')})`,
    );
    for (const recorded of events) {
      const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
      const event = recorded as unknown as RecordedEvent & MessageEvent;
      if (event.type === 'MessageAccepted') {
        insertFacts.run(messageId, JSON.stringify(factsFromAccepted(event.data)));
        continue;
      }
      // Nothing was attempted for these: no accounting record.
      if (
        event.type === 'MessageSigned' ||
        event.type === 'RecipientSuppressed' ||
        event.type === 'ComplaintReceived' ||
        event.type === 'Unsubscribed' ||
        event.type === 'Opened' ||
        event.type === 'Clicked'
      )
        continue;
      const row = selectFacts.get(messageId) as { facts: string } | undefined;
      if (!row) continue;
      const record = acctRecord(JSON.parse(row.facts) as AcceptedFacts, event);
      insertRecord.run(recorded.position, event.data.at, ...ACCT_FIELDS.map((f) => record[f]));
    }
  },
};

const t = liveTables(accountingProjection);

export interface AcctQuery {
  readonly since?: number;
  readonly types?: readonly string[];
}

/** Records in log order, read lazily so an export of millions stays small in memory. */
export function* acctRecords(db: ReadModelDb, query: AcctQuery = {}): Generator<AcctRecord> {
  const where = ['logged_at >= ?'];
  const params: unknown[] = [query.since ?? 0];
  if (query.types?.length) {
    where.push(`type IN (${query.types.map(() => '?').join(',')})`);
    params.push(...query.types);
  }
  // Not the shared cache: an iterating statement is busy until the export finishes.
  const select = db.prepare(
    `SELECT ${ACCT_FIELDS.map((f) => `"${f}"`).join(', ')} FROM ${t('records')}
     WHERE ${where.join(' AND ')} ORDER BY position`,
  );
  yield* select.iterate(...params) as Iterable<AcctRecord>;
}

/** Records after a position (the event each came from), in log order: one page. */
export const acctRecordsAfter = (
  db: ReadModelDb,
  after: bigint,
  limit: number,
): Array<{ readonly position: bigint; readonly record: AcctRecord }> =>
  (
    statement(
      db,
      `SELECT position, ${ACCT_FIELDS.map((f) => `"${f}"`).join(', ')} FROM ${t('records')}
       WHERE position > ? ORDER BY position LIMIT ?`,
    )
      .safeIntegers(true)
      .all(after, limit) as Array<AcctRecord & { position: bigint }>
  ).map(({ position, ...record }) => ({ position, record: record as AcctRecord }));
