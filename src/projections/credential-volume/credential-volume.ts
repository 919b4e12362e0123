import { domainOf } from '../../domain/address/address.js';
import { fromDomains } from '../../domain/address/from-domains.js';
import type { CredentialFigures } from '../../domain/anomaly/anomaly.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageEvent } from '../../domain/message/events.js';
import { minuteOf, WINDOW_MS } from '../../domain/volume-limit/volume-limit.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

const MINUTE = 60_000;

/**
 * What each credential submitted per UTC minute, messages and recipients (hours and days
 * are their sums), and what became of it: recipients delivered and bounced in that minute,
 * and the sending domains it has used. Outcomes name no credential, so the messages still
 * waiting for some are remembered until their last recipient is settled. Each minute row
 * remembers the position of the event that last changed it, so the rows can be followed as
 * a change feed: after a position, every row changed since, in its latest state.
 */
export const credentialVolumeProjection: Projection = {
  name: 'credential_volume',
  version: 2,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX] },
  tables: {
    minutes: `credential_id TEXT NOT NULL, credential_name TEXT NOT NULL, minute INTEGER NOT NULL,
      messages INTEGER NOT NULL, recipients INTEGER NOT NULL, delivered INTEGER NOT NULL,
      bounced INTEGER NOT NULL, position INTEGER NOT NULL,
      PRIMARY KEY (credential_id, minute)`,
    open_messages: `message_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL,
      credential_name TEXT NOT NULL, unsettled INTEGER NOT NULL`,
    domains: `credential_id TEXT NOT NULL, domain TEXT NOT NULL, first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL, PRIMARY KEY (credential_id, domain)`,
  },
  indexes: {
    changes: 'minutes (position)',
    by_minute: 'minutes (minute)',
    domains_first_seen: 'domains (first_seen)',
  },
  apply: (db, t, events) => {
    const add = statement(
      db,
      `INSERT INTO ${t('minutes')} VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (credential_id, minute) DO UPDATE SET messages = messages + excluded.messages,
         recipients = recipients + excluded.recipients, delivered = delivered + excluded.delivered,
         bounced = bounced + excluded.bounced, position = excluded.position`,
    );
    const open = statement(db, `INSERT OR IGNORE INTO ${t('open_messages')} VALUES (?, ?, ?, ?)`);
    const openOf = statement(
      db,
      `SELECT credential_id AS id, credential_name AS name FROM ${t('open_messages')}
       WHERE message_id = ?`,
    );
    const settle = statement(
      db,
      `UPDATE ${t('open_messages')} SET unsettled = unsettled - 1 WHERE message_id = ?`,
    );
    const close = statement(
      db,
      `DELETE FROM ${t('open_messages')} WHERE message_id = ? AND unsettled <= 0`,
    );
    const used = statement(
      db,
      `INSERT INTO ${t('domains')} VALUES (?, ?, ?, ?)
       ON CONFLICT (credential_id, domain) DO UPDATE SET last_seen = excluded.last_seen`,
    );
    for (const recorded of events) {
      const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
      const event = recorded as unknown as RecordedEvent & MessageEvent;
      if (event.type === 'MessageAccepted') {
        const d = event.data;
        if (!d.credential) continue;
        add.run(
          d.credential.id,
          d.credential.name,
          minuteOf(d.acceptedAt),
          1,
          d.envelope.to.length,
          0,
          0,
          recorded.position,
        );
        // Test mode is never delivered: nothing to wait for.
        if (!d.testMode)
          open.run(messageId, d.credential.id, d.credential.name, d.envelope.to.length);
        const domain = fromDomains(d.headers.from)[0] ?? domainOf(d.envelope.from);
        if (domain) used.run(d.credential.id, domain, d.acceptedAt, d.acceptedAt);
        continue;
      }
      if (
        event.type !== 'MessageDelivered' &&
        event.type !== 'MessageBounced' &&
        event.type !== 'RecipientSuppressed'
      )
        continue;
      const owner = openOf.get(messageId) as { id: string; name: string } | undefined;
      if (!owner) continue;
      if (event.type !== 'RecipientSuppressed') {
        const delivered = event.type === 'MessageDelivered' ? 1 : 0;
        add.run(
          owner.id,
          owner.name,
          minuteOf(event.data.at),
          0,
          0,
          delivered,
          1 - delivered,
          recorded.position,
        );
      }
      settle.run(messageId);
      close.run(messageId);
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
  /** Recipients delivered and bounced in this minute, of mail it submitted. */
  readonly delivered: number;
  readonly bounced: number;
  /** The event that last changed this row. */
  readonly position: bigint;
}

/** Rows changed after a position, in the order of their last change: one page. */
export const volumeChangesAfter = (db: ReadModelDb, after: bigint, limit: number): VolumeRow[] =>
  (
    statement(
      db,
      `SELECT credential_id AS credentialId, credential_name AS credentialName, minute,
         messages, recipients, delivered, bounced, position
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
    delivered: Number(r.delivered),
    bounced: Number(r.bounced),
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
     FROM ${t('minutes')} WHERE minute >= ? AND messages > 0 ORDER BY credential_id, minute`,
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

/**
 * What the anomaly detector weighs for each credential that sent in the last hour or used
 * a domain for the first time after `domainsSince`: its last hour, the week before it, its
 * first submission, and those new domains.
 */
export const credentialFigures = (
  db: ReadModelDb,
  now: number,
  domainsSince: number,
): CredentialFigures[] => {
  const hourFrom = minuteOf(now) - WINDOW_MS.hour + MINUTE;
  const weekFrom = hourFrom - 7 * WINDOW_MS.day;
  const fresh = statement(
    db,
    `SELECT credential_id AS id, domain, first_seen AS firstSeen FROM ${t('domains')}
     WHERE first_seen > ? ORDER BY first_seen`,
  ).all(domainsSince) as Array<{ id: string; domain: string; firstSeen: number }>;
  const active = statement(
    db,
    `SELECT DISTINCT credential_id AS id FROM ${t('minutes')} WHERE minute >= ? AND messages > 0`,
  ).all(hourFrom) as Array<{ id: string }>;
  const ids = [...new Set([...active.map((a) => a.id), ...fresh.map((f) => f.id)])];
  // Its first submission, to the millisecond: when it first used any domain.
  const first = statement(
    db,
    `SELECT MIN(d.first_seen) AS firstSeen,
       (SELECT credential_name FROM ${t('minutes')} m WHERE m.credential_id = d.credential_id
        LIMIT 1) AS name
     FROM ${t('domains')} d WHERE d.credential_id = ?`,
  );
  const sums = statement(
    db,
    `SELECT
       COALESCE(SUM(CASE WHEN minute >= ? THEN messages END), 0) AS hm,
       COALESCE(SUM(CASE WHEN minute >= ? THEN delivered END), 0) AS hd,
       COALESCE(SUM(CASE WHEN minute >= ? THEN bounced END), 0) AS hb,
       COALESCE(SUM(CASE WHEN minute < ? THEN messages END), 0) AS bm,
       COALESCE(SUM(CASE WHEN minute < ? THEN delivered END), 0) AS bd,
       COALESCE(SUM(CASE WHEN minute < ? THEN bounced END), 0) AS bb
     FROM ${t('minutes')} WHERE credential_id = ? AND minute >= ?`,
  );
  return ids.map((id) => {
    const f = first.get(id) as { firstSeen: number; name: string };
    const s = sums.get(
      hourFrom,
      hourFrom,
      hourFrom,
      hourFrom,
      hourFrom,
      hourFrom,
      id,
      weekFrom,
    ) as Record<string, number>;
    return {
      credentialId: id,
      name: f.name,
      firstSeen: f.firstSeen,
      lastHour: { messages: s.hm ?? 0, delivered: s.hd ?? 0, bounced: s.hb ?? 0 },
      baseline: { messages: s.bm ?? 0, delivered: s.bd ?? 0, bounced: s.bb ?? 0 },
      newDomains: fresh
        .filter((d) => d.id === id)
        .map((d) => ({ domain: d.domain, firstSeen: d.firstSeen })),
    };
  });
};
