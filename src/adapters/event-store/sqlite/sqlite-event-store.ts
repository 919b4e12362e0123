import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { ChainedEvent } from '../../../domain/audit/event-chain.js';
import {
  type AppendResult,
  type EventStore,
  EventStoreError,
  type GlobalPosition,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionItem,
} from '../../../domain/event-store/event-store.js';
import { waitForChange } from '../wait-for-change.js';
import { type AppendRequest, createGroupCommit } from './group-commit.js';
import { openSqliteDatabase } from './open-database.js';
import { createRecentBlobs, type RecentBlobs } from './recent-blobs.js';
import type { EventRow } from './schema.js';
import {
  type CommittedBlobs,
  commitChannelName,
  fromReplyError,
  type ReceiveBlobsRequest,
  type WriterReply,
  type WriterRequest,
} from './writer-protocol.js';

export interface SqliteEventStoreOptions {
  readonly path: string;
  /** How often a live subscription looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  readonly pageSize?: number;
  /** A live subscription reads the log at most this often (default 4 ms). */
  readonly liveReadIntervalMs?: number;
  /**
   * How long the first append of a batch waits for others to join it. Every batch costs one
   * fsync, so under load a millisecond of waiting buys many appends per fsync.
   */
  readonly groupCommitWindowMs?: number;
  /**
   * A port to a writer thread (sqlite-writer.ts): appends go there, and this connection
   * only reads. Without one, this connection commits its own appends.
   */
  readonly writer?: MessagePort;
  /**
   * With a writer: keep up to this many bytes of the blobs it commits, newest first, and
   * answer readBlob from them (a delivery thread reads each body just after it is stored).
   */
  readonly recentBlobBytes?: number;
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

type ChainRow = EventRow & {
  hash: Buffer | null;
  stream_hash: Buffer | null;
  previous_stream_hash: Buffer | null;
};

const toChained = (row: ChainRow): ChainedEvent => ({
  position: row.position,
  streamName: row.stream_name,
  revision: row.revision,
  eventId: row.event_id,
  type: row.type,
  data: row.data,
  metadata: row.metadata,
  recordedAt: Number(row.recorded_at),
  hash: row.hash,
  streamHash: row.stream_hash,
  previousStreamHash: row.previous_stream_hash,
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

/** Appends sent to a writer thread, answered by request id. */
const remoteAppender = (
  port: MessagePort,
  onReply: () => void,
  recentBlobs: RecentBlobs | undefined,
) => {
  const waiting = new Map<
    number,
    { resolve: (r: AppendResult) => void; reject: (e: unknown) => void }
  >();
  let nextId = 0;
  if (recentBlobs) port.postMessage({ receiveBlobs: true } satisfies ReceiveBlobsRequest);
  port.on('message', (reply: WriterReply | CommittedBlobs) => {
    if ('blobs' in reply) {
      for (const blob of reply.blobs) recentBlobs?.add(blob.key, blob.bytes);
      return;
    }
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (waiting.size === 0) port.unref();
    if (reply.ok) w.resolve(reply.result);
    else w.reject(fromReplyError(reply));
    onReply();
  });
  port.unref();
  return {
    append: (request: AppendRequest): Promise<AppendResult> =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        waiting.set(id, { resolve, reject });
        port.ref();
        port.postMessage({ ...request, id } satisfies WriterRequest);
      }),
    close: () => {
      for (const w of waiting.values())
        w.reject(new EventStoreError('StoreUnavailable', 'the store was closed'));
      port.close();
    },
  };
};

/**
 * The embedded event store: one SQLite file in WAL mode with synchronous=FULL.
 *
 * Appends that arrive within a millisecond are committed together: one transaction, a
 * savepoint each and one fsync (group-commit.ts), either on this connection or on the
 * process's writer thread.
 */
export const openSqliteEventStore = (options: SqliteEventStoreOptions): EventStore => {
  const db = openSqliteDatabase(options.path);
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const pageSize = options.pageSize ?? 500;
  const liveReadIntervalMs = options.liveReadIntervalMs ?? 4;
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  // Every thread of this process with the file open hears of each commit at once; other
  // processes are found by polling.
  const commits = new BroadcastChannel(commitChannelName(resolve(options.path)));
  commits.onmessage = () => appended.emit('append');
  (commits as unknown as { unref(): void }).unref();
  let closed = false;

  const announce = (): void => {
    appended.emit('append');
    commits.postMessage(null);
  };
  const recentBlobs =
    options.writer && options.recentBlobBytes
      ? createRecentBlobs(options.recentBlobBytes)
      : undefined;
  const appender = options.writer
    ? remoteAppender(options.writer, () => appended.emit('append'), recentBlobs)
    : createGroupCommit(db, options.groupCommitWindowMs ?? 1, announce);

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
  const selectBlob = db.prepare('SELECT bytes FROM blobs WHERE key = ?');
  const selectHead = db
    .prepare('SELECT coalesce(max(position), 0) AS head FROM events')
    .safeIntegers(true);

  const appendToStream: EventStore['appendToStream'] = (streamName, events, appendOptions) =>
    closed
      ? Promise.reject(new EventStoreError('StoreUnavailable', 'the store is closed'))
      : appender.append({ streamName, events, options: appendOptions });

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

  async function* readStreamChain(streamName: string): AsyncIterable<ChainedEvent> {
    const rows = prepared(
      `SELECT e.*, p.stream_hash AS previous_stream_hash FROM events e
       LEFT JOIN events p ON p.stream_name = e.stream_name AND p.revision = e.revision - 1
       WHERE e.stream_name = ? ORDER BY e.revision`,
    ).all(streamName) as ChainRow[];
    for (const row of rows) yield toChained(row);
  }

  /** Each event with its stream's previous hash, by the (stream, revision) index. */
  async function* readChainFrom(after: GlobalPosition): AsyncIterable<ChainedEvent> {
    const upTo = head();
    const page = prepared(
      `SELECT e.*, p.stream_hash AS previous_stream_hash FROM events e
       LEFT JOIN events p ON p.stream_name = e.stream_name AND p.revision = e.revision - 1
       WHERE e.position > ? AND e.position <= ? ORDER BY e.position LIMIT ?`,
    );
    let from = after;
    for (;;) {
      const rows = page.all(from, upTo, pageSize) as ChainRow[];
      for (const row of rows) yield toChained(row);
      if (rows.length < pageSize) return;
      from = (rows[rows.length - 1] as EventRow).position;
    }
  }

  async function* subscribeToAll(
    subscribeOptions: SubscribeOptions = {},
  ): AsyncIterable<SubscriptionItem> {
    const { signal } = subscribeOptions;
    let after = subscribeOptions.after ?? 0n;
    let caughtUp = false;
    let lastRead = 0;
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
      // Live, commits arrive every millisecond or two under load; reading at most every
      // few milliseconds turns many one-event pages into fewer, fuller ones.
      const sinceRead = performance.now() - lastRead;
      if (sinceRead < liveReadIntervalMs && !signal?.aborted)
        await new Promise((r) => setTimeout(r, liveReadIntervalMs - sinceRead));
      lastRead = performance.now();
    }
  }

  return {
    appendToStream,
    readStream,
    readAll,
    subscribeToAll,
    readBlob: async (key) => {
      const recent = recentBlobs?.get(key);
      if (recent) return recent;
      const row = selectBlob.get(key) as { bytes: Buffer } | undefined;
      return row?.bytes;
    },
    headPosition: async () => head(),
    readChain: async (chainOptions = {}) => {
      if (chainOptions.stream !== undefined)
        return { start: null, events: readStreamChain(chainOptions.stream) };
      const first =
        chainOptions.since === undefined
          ? 0n
          : ((
              prepared('SELECT min(position) AS p FROM events WHERE recorded_at >= ?').get(
                chainOptions.since,
              ) as { p: bigint | null }
            ).p ?? head() + 1n);
      const before = prepared(
        'SELECT hash FROM events WHERE position < ? ORDER BY position DESC LIMIT 1',
      ).get(first) as { hash: Buffer | null } | undefined;
      return { start: before?.hash ?? null, events: readChainFrom(first - 1n) };
    },
    close: async () => {
      if (closed) return;
      if ('flush' in appender) appender.flush();
      else appender.close();
      closed = true;
      commits.close();
      appended.emit('append');
      db.close();
    },
  };
};
