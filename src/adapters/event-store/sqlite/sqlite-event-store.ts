import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  EventStoreError,
  type GlobalPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionItem,
} from '../../../domain/event-store/event-store.js';
import { checkExpectedRevision, checkIdempotency } from '../append-rules.js';
import { waitForChange } from '../wait-for-change.js';
import { SCHEMA } from './schema.js';

export interface SqliteEventStoreOptions {
  readonly path: string;
  /** How often a live subscription looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  /**
   * How long the first append of a batch waits for others to join it. Every batch costs one
   * fsync, so under load a millisecond of waiting buys many appends per fsync.
   */
  readonly groupCommitWindowMs?: number;
  readonly pageSize?: number;
}

interface PendingAppend {
  readonly streamName: string;
  readonly events: readonly NewEvent[];
  readonly options: AppendOptions;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface EventRow {
  position: bigint;
  stream_name: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: string;
  metadata: string | null;
  recorded_at: bigint;
}

const toRecorded = (row: EventRow): RecordedEvent => ({
  eventId: row.event_id,
  type: row.type,
  data: JSON.parse(row.data),
  ...(row.metadata ? { metadata: JSON.parse(row.metadata) } : {}),
  streamName: row.stream_name,
  revision: row.revision,
  position: row.position,
  recordedAt: new Date(Number(row.recorded_at)),
});

const filterSql = (options: ReadAllOptions): { sql: string; params: unknown[] } => {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const types = options.filter?.eventTypes;
  if (types) {
    clauses.push(`type IN (${types.map(() => '?').join(',') || 'NULL'})`);
    params.push(...types);
  }
  const prefixes = options.filter?.streamPrefixes;
  if (prefixes) {
    clauses.push(`(${prefixes.map(() => 'substr(stream_name, 1, ?) = ?').join(' OR ') || '0'})`);
    for (const p of prefixes) params.push(p.length, p);
  }
  return { sql: clauses.map((c) => ` AND ${c}`).join(''), params };
};

/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL.
 *
 * Appends that arrive in the same turn of the event loop are committed together: one
 * transaction, a savepoint each (so one append's conflict does not fail the others) and
 * one fsync. That is what makes durable acceptance cheap per message.
 */
export const openSqliteEventStore = (options: SqliteEventStoreOptions): EventStore => {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);

  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const pageSize = options.pageSize ?? 500;
  const groupCommitWindowMs = options.groupCommitWindowMs ?? 1;
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  // Other threads of this process with the same file open (the relay's delivery worker)
  // hear of each commit at once; other processes are found by polling.
  const commits = new BroadcastChannel(`mailtrail-events:${resolve(options.path)}`);
  commits.onmessage = () => appended.emit('append');
  (commits as unknown as { unref(): void }).unref();
  let closed = false;

  const statements = new Map<string, Database.Statement>();
  // Reads build their SQL from options; each variant is prepared once.
  const prepared = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql).safeIntegers(true);
      statements.set(sql, statement);
    }
    return statement;
  };

  const selectStream = db
    .prepare('SELECT revision FROM streams WHERE stream_name = ?')
    .safeIntegers(true);
  const selectEventById = db
    .prepare('SELECT revision, position FROM events WHERE stream_name = ? AND event_id = ?')
    .safeIntegers(true);
  const insertEvent = db
    .prepare(
      `INSERT INTO events (stream_name, revision, event_id, type, data, metadata, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .safeIntegers(true);
  const upsertStream = db.prepare(
    `INSERT INTO streams (stream_name, revision) VALUES (?, ?)
     ON CONFLICT (stream_name) DO UPDATE SET revision = excluded.revision`,
  );
  const insertBlob = db.prepare('INSERT OR REPLACE INTO blobs (key, bytes) VALUES (?, ?)');
  const selectBlob = db.prepare('SELECT bytes FROM blobs WHERE key = ?');
  const selectHead = db
    .prepare('SELECT coalesce(max(position), 0) AS head FROM events')
    .safeIntegers(true);

  const appendOne = db.transaction((p: PendingAppend): AppendResult => {
    const row = selectStream.get(p.streamName) as { revision: bigint } | undefined;
    const current = row ? row.revision : 'no_stream';
    const duplicate = checkIdempotency(p.streamName, p.events, current, (eventId) => {
      const hit = selectEventById.get(p.streamName, eventId) as
        | { revision: bigint; position: bigint }
        | undefined;
      return hit;
    });
    if (duplicate) return duplicate;
    checkExpectedRevision(p.streamName, p.options.expectedRevision, current);
    let revision = current === 'no_stream' ? -1n : current;
    let position = 0n;
    const now = Date.now();
    for (const event of p.events) {
      revision += 1n;
      const info = insertEvent.run(
        p.streamName,
        revision,
        event.eventId,
        event.type,
        JSON.stringify(event.data),
        event.metadata ? JSON.stringify(event.metadata) : null,
        now,
      );
      position = BigInt(info.lastInsertRowid);
    }
    upsertStream.run(p.streamName, revision);
    for (const blob of p.options.blobs ?? []) insertBlob.run(blob.key, blob.bytes);
    return { nextExpectedRevision: revision, position, deduplicated: false };
  });

  const commitBatch = db.transaction((batch: readonly PendingAppend[]) =>
    batch.map((p) => {
      try {
        return { ok: true as const, result: appendOne(p) };
      } catch (error) {
        return { ok: false as const, error };
      }
    }),
  );

  let pending: PendingAppend[] = [];
  const flush = (): void => {
    const batch = pending;
    pending = [];
    let outcomes: ReturnType<typeof commitBatch>;
    try {
      // IMMEDIATE: take the write lock up front (waiting up to busy_timeout for another
      // connection), rather than fail when a read transaction cannot be upgraded.
      outcomes = commitBatch.immediate(batch);
    } catch (cause) {
      const error = new EventStoreError('StoreUnavailable', `commit failed: ${String(cause)}`, {
        cause,
      });
      for (const p of batch) p.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const p = batch[i] as PendingAppend;
      if (outcome.ok) p.resolve(outcome.result);
      else p.reject(outcome.error);
    });
    appended.emit('append');
    commits.postMessage(null);
  };

  const appendToStream = (
    streamName: string,
    events: readonly NewEvent[],
    appendOptions: AppendOptions,
  ): Promise<AppendResult> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new EventStoreError('StoreUnavailable', 'the store is closed'));
      if (events.length === 0)
        return reject(new EventStoreError('InvalidEvent', 'an append needs at least one event'));
      if (pending.length === 0) {
        if (groupCommitWindowMs > 0) setTimeout(flush, groupCommitWindowMs);
        else setImmediate(flush);
      }
      pending.push({ streamName, events, options: appendOptions, resolve, reject });
    });

  async function* readStream(
    streamName: string,
    readOptions: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    const backwards = readOptions.direction === 'backwards';
    const limit = readOptions.maxCount ?? Number.MAX_SAFE_INTEGER;
    const from = readOptions.fromRevision;
    const sql = `SELECT * FROM events WHERE stream_name = ?
      ${from === undefined ? '' : backwards ? 'AND revision <= ?' : 'AND revision >= ?'}
      ORDER BY revision ${backwards ? 'DESC' : 'ASC'} LIMIT ?`;
    const rows = prepared(sql).all(
      ...(from === undefined ? [streamName] : [streamName, from]),
      limit,
    ) as EventRow[];
    for (const row of rows) yield toRecorded(row);
  }

  const readPage = (
    after: GlobalPosition,
    upTo: GlobalPosition,
    limit: number,
    readOptions: ReadAllOptions,
  ): EventRow[] => {
    const f = filterSql(readOptions);
    return prepared(
      `SELECT * FROM events WHERE position > ? AND position <= ?${f.sql} ORDER BY position LIMIT ?`,
    ).all(after, upTo, ...f.params, limit) as EventRow[];
  };

  const head = (): GlobalPosition => (selectHead.get() as { head: bigint }).head;

  async function* readAll(readOptions: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = readOptions.after ?? 0n;
    let left = readOptions.maxCount ?? Number.MAX_SAFE_INTEGER;
    const upTo = head();
    while (left > 0) {
      const rows = readPage(after, upTo, Math.min(pageSize, left), readOptions);
      for (const row of rows) yield toRecorded(row);
      if (rows.length === 0) return;
      after = (rows[rows.length - 1] as EventRow).position;
      left -= rows.length;
    }
  }

  async function* subscribeToAll(
    subscribeOptions: SubscribeOptions = {},
  ): AsyncIterable<SubscriptionItem> {
    const { signal } = subscribeOptions;
    let after = subscribeOptions.after ?? 0n;
    let caughtUp = false;
    while (!signal?.aborted && !closed) {
      // Read the head first: every position up to it is committed, so a page bounded by
      // it can never skip an event that commits while the page is being read.
      const upTo = head();
      const rows = readPage(after, upTo, pageSize, subscribeOptions);
      for (const row of rows) {
        yield { kind: 'event', event: toRecorded(row) };
        after = row.position;
      }
      if (rows.length === pageSize) continue;
      // The page reached the head: say so, so consumers can commit what they hold.
      if (after < upTo || rows.length > 0) {
        after = upTo;
        yield { kind: 'checkpoint', position: after };
      }
      if (!caughtUp) {
        caughtUp = true;
        yield { kind: 'caughtUp', position: after };
      }
      await waitForChange(appended, 'append', pollIntervalMs, signal);
    }
  }

  return {
    appendToStream,
    readStream,
    readAll,
    subscribeToAll,
    readBlob: async (key) => {
      const row = selectBlob.get(key) as { bytes: Buffer } | undefined;
      return row?.bytes;
    },
    headPosition: async () => head(),
    close: async () => {
      if (closed) return;
      if (pending.length > 0) flush();
      closed = true;
      commits.close();
      appended.emit('append');
      db.close();
    },
  };
};
