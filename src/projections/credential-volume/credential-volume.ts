import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageAccepted } from '../../domain/message/events.js';
import { minuteOf, WINDOW_MS } from '../../domain/volume-limit/volume-limit.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

const MINUTE = 60_000;

/**
 * Messages and recipients each credential submitted, per UTC minute (hours and days are
 * their sums). Each row remembers the position of the event that last changed it, so the
 * rows can be followed as a change feed: after a position, every row changed since, in
 * its latest state.
 */
export const credentialVolumeProjection: Projection = {
  name: 'credential_volume',
  version: 1,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX] },
  tables: {
    minutes: `credential_id TEXT NOT NULL, credential_name TEXT NOT NULL, minute INTEGER NOT NULL,
      messages INTEGER NOT NULL, recipients INTEGER NOT NULL, position INTEGER NOT NULL,
      PRIMARY KEY (credential_id, minute)`,
  },
  indexes: { changes: 'minutes (position)' },
  apply: (db, t, events) => {
    const add = statement(
      db,
      `INSERT INTO ${t('minutes')} VALUES (?, ?, ?, 1, ?, ?)
       ON CONFLICT (credential_id, minute) DO UPDATE SET messages = messages + 1,
         recipients = recipients + excluded.recipients, position = excluded.position`,
    );
    for (const recorded of events) {
      const event = recorded as unknown as RecordedEvent & MessageAccepted;
      if (event.type !== 'MessageAccepted' || !event.data.credential) continue;
      const minute = Math.floor(event.data.acceptedAt / MINUTE) * MINUTE;
      add.run(
        event.data.credential.id,
        event.data.credential.name,
        minute,
        event.data.envelope.to.length,
        recorded.position,
      );
    }
  },
};

const t = liveTables(credentialVolumeProjection);

export interface VolumeRow {
  readonly credentialId: string;
  readonly credentialName: string;
  /** The minute's start, epoch ms (UTC). */
  readonly minute: number;
  readonly messages: number;
  readonly recipients: number;
  /** The event that last changed this row. */
  readonly position: bigint;
}

/** Rows changed after a position, in the order of their last change: one page. */
export const volumeChangesAfter = (db: ReadModelDb, after: bigint, limit: number): VolumeRow[] =>
  (
    statement(
      db,
      `SELECT credential_id AS credentialId, credential_name AS credentialName, minute,
         messages, recipients, position
       FROM ${t('minutes')} WHERE position > ? ORDER BY position LIMIT ?`,
    )
      .safeIntegers(true)
      .all(after, limit) as Array<Record<string, bigint | string>>
  ).map((r) => ({
    credentialId: String(r.credentialId),
    credentialName: String(r.credentialName),
    minute: Number(r.minute),
    messages: Number(r.messages),
    recipients: Number(r.recipients),
    position: r.position as bigint,
  }));

/** Each credential's minutes from `since` on (epoch ms), oldest first: seeds the caps. */
export const minutesSince = (
  db: ReadModelDb,
  since: number,
): Map<string, Array<{ minute: number; messages: number; recipients: number }>> => {
  const byCredential = new Map<
    string,
    Array<{ minute: number; messages: number; recipients: number }>
  >();
  const rows = statement(
    db,
    `SELECT credential_id AS credentialId, minute, messages, recipients
     FROM ${t('minutes')} WHERE minute >= ? ORDER BY credential_id, minute`,
  ).all(since) as Array<{
    credentialId: string;
    minute: number;
    messages: number;
    recipients: number;
  }>;
  for (const { credentialId, ...minute } of rows) {
    const list = byCredential.get(credentialId) ?? [];
    list.push(minute);
    byCredential.set(credentialId, list);
  }
  return byCredential;
};

export interface CredentialUsage {
  readonly credentialId: string;
  readonly credentialName: string;
  readonly hour: { readonly messages: number; readonly recipients: number };
  readonly day: { readonly messages: number; readonly recipients: number };
}

/**
 * What each credential submitted in the rolling hour and day ending at `now` (the windows
 * the caps count in), for every credential that submitted in the day.
 */
export const credentialUsage = (db: ReadModelDb, now: number): CredentialUsage[] => {
  const hourFrom = minuteOf(now) - WINDOW_MS.hour + MINUTE;
  const dayFrom = minuteOf(now) - WINDOW_MS.day + MINUTE;
  return (
    statement(
      db,
      `SELECT credential_id AS credentialId, MAX(credential_name) AS credentialName,
         SUM(CASE WHEN minute >= ? THEN messages ELSE 0 END) AS hourMessages,
         SUM(CASE WHEN minute >= ? THEN recipients ELSE 0 END) AS hourRecipients,
         SUM(messages) AS dayMessages, SUM(recipients) AS dayRecipients
       FROM ${t('minutes')} WHERE minute >= ? AND minute <= ?
       GROUP BY credential_id ORDER BY credentialName`,
    ).all(hourFrom, hourFrom, dayFrom, now) as Array<Record<string, string | number>>
  ).map((r) => ({
    credentialId: String(r.credentialId),
    credentialName: String(r.credentialName),
    hour: { messages: Number(r.hourMessages), recipients: Number(r.hourRecipients) },
    day: { messages: Number(r.dayMessages), recipients: Number(r.dayRecipients) },
  }));
};
