import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import {
  MESSAGE_STREAM_PREFIX,
  type MessageAccepted,
  type MessageEvent,
  parseMessageEvent,
} from '../../domain/message/events.js';
import type { WebhookAttempted } from '../../domain/webhook/attempt.js';
import { WEBHOOK_STREAM_PREFIX, type WebhookEvent } from '../../domain/webhook/endpoint.js';
import {
  kindOfEvent,
  recipientsOf,
  summarizeMessage,
  timeOf,
  type WebhookEventKind,
} from '../../domain/webhook/notification.js';
import { webhookFormat } from '../../domain/webhook-format/formats.js';
import type { WebhookFormatName } from '../../domain/webhook-format/webhook-format.js';
import type { Projection, Tables } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/**
 * The webhook outbox: what each endpoint must be told, and how far each notification got.
 * A message event makes one delivery row per matching endpoint and recipient (the
 * endpoint's credential sent the message, it asked for that kind, and its format has such
 * an event); WebhookAttempted events (the dispatcher's log) settle or reschedule them; a
 * replay request makes them due again. The message summary and the event are kept once, so
 * a payload can be rendered without reading the message's stream.
 */
export const webhookOutboxProjection: Projection = {
  name: 'webhook_outbox',
  version: 1,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX, WEBHOOK_STREAM_PREFIX] },
  tables: {
    endpoints: `webhook_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, url TEXT NOT NULL,
      format TEXT NOT NULL, events TEXT NOT NULL, public_key TEXT, status TEXT NOT NULL,
      created_at INTEGER NOT NULL`,
    messages: 'message_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, summary TEXT NOT NULL',
    events: `position INTEGER PRIMARY KEY, message_id TEXT NOT NULL, type TEXT NOT NULL,
      data TEXT NOT NULL, recorded_at INTEGER NOT NULL`,
    // status: pending | delivered | rejected | dead | removed
    deliveries: `webhook_id TEXT NOT NULL, position INTEGER NOT NULL, recipient TEXT NOT NULL,
      message_id TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,
      attempts INTEGER NOT NULL, generation INTEGER NOT NULL, next_at INTEGER NOT NULL,
      last_status INTEGER, last_error TEXT,
      PRIMARY KEY (webhook_id, position, recipient)`,
    attempts: `webhook_id TEXT NOT NULL, position INTEGER NOT NULL, recipient TEXT NOT NULL,
      message_id TEXT NOT NULL, attempt INTEGER NOT NULL, generation INTEGER NOT NULL,
      at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status INTEGER, error TEXT,
      outcome TEXT NOT NULL, next_at INTEGER`,
  },
  indexes: {
    endpoints_by_credential: 'endpoints (credential_id)',
    due: "deliveries (next_at) WHERE status = 'pending'",
    due_by_endpoint: "deliveries (webhook_id, next_at, position) WHERE status = 'pending'",
    per_message: 'deliveries (webhook_id, message_id, position)',
    replay: 'deliveries (webhook_id, at)',
    attempts_by_message: 'attempts (message_id, at)',
  },
  apply: (db, t, events) => {
    for (const recorded of events) {
      if (recorded.streamName.startsWith(WEBHOOK_STREAM_PREFIX))
        applyWebhookEvent(db, t, recorded as unknown as RecordedEvent & WebhookEventOrAttempt);
      else applyMessageEvent(db, t, recorded);
    }
  },
};

type WebhookEventOrAttempt = WebhookEvent | WebhookAttempted;

const applyWebhookEvent = (
  db: ReadModelDb,
  t: Tables,
  event: RecordedEvent & WebhookEventOrAttempt,
): void => {
  switch (event.type) {
    case 'WebhookCreated': {
      const d = event.data;
      statement(
        db,
        `INSERT OR REPLACE INTO ${t('endpoints')} VALUES (?, ?, ?, ?, ?, ?, 'active', ?)`,
      ).run(
        d.webhookId,
        d.credentialId,
        d.url,
        d.format,
        JSON.stringify(d.events),
        d.publicKey,
        d.createdAt,
      );
      return;
    }
    case 'WebhookRemoved':
      statement(db, `UPDATE ${t('endpoints')} SET status = 'removed' WHERE webhook_id = ?`).run(
        event.data.webhookId,
      );
      statement(
        db,
        `UPDATE ${t('deliveries')} SET status = 'removed'
         WHERE webhook_id = ? AND status = 'pending'`,
      ).run(event.data.webhookId);
      return;
    case 'WebhookReplayRequested':
      // A new generation: attempts of the old one still in flight cannot settle these.
      statement(
        db,
        `UPDATE ${t('deliveries')} SET status = 'pending', attempts = 0,
           generation = generation + 1, next_at = ?
         WHERE webhook_id = ? AND at >= ? AND status != 'removed'`,
      ).run(event.data.requestedAt, event.data.webhookId, event.data.since);
      return;
    case 'WebhookAttempted': {
      const d = event.data;
      const log = statement(
        db,
        `INSERT INTO ${t('attempts')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const settle = statement(
        db,
        `UPDATE ${t('deliveries')} SET status = ?, attempts = ?, next_at = ?, last_status = ?,
           last_error = ?
         WHERE webhook_id = ? AND position = ? AND recipient = ? AND generation = ?
           AND status = 'pending'`,
      );
      const status = d.outcome === 'retry' ? 'pending' : d.outcome;
      for (const delivery of d.deliveries) {
        const position = BigInt(delivery.position);
        log.run(
          d.webhookId,
          position,
          delivery.recipient,
          delivery.messageId,
          d.attempt,
          d.generation,
          d.at,
          d.durationMs,
          d.status,
          d.error,
          d.outcome,
          d.nextAttemptAt,
        );
        settle.run(
          status,
          d.attempt,
          d.nextAttemptAt ?? d.at,
          d.status,
          d.error,
          d.webhookId,
          position,
          delivery.recipient,
          d.generation,
        );
      }
      return;
    }
  }
};

interface EndpointMatch {
  readonly webhook_id: string;
  readonly format: WebhookFormatName;
  readonly events: string;
}

const applyMessageEvent = (db: ReadModelDb, t: Tables, recorded: RecordedEvent): void => {
  const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
  const kind = kindOfEvent(recorded.type as MessageEvent['type']);
  if (kind === null) return;
  const endpointsOf = (credentialId: string): EndpointMatch[] =>
    (
      statement(
        db,
        `SELECT webhook_id, format, events FROM ${t('endpoints')}
         WHERE credential_id = ? AND status = 'active'`,
      ).all(credentialId) as EndpointMatch[]
    ).filter((e) => wants(e, kind));
  let endpoints: EndpointMatch[];
  let event: MessageEvent;
  if (recorded.type === 'MessageAccepted') {
    // Mail from a trusted network has no credential, and a credential without endpoints has
    // no one to tell: its messages are not kept (an endpoint hears of mail accepted after it).
    const credentialId = (recorded.data as { credential?: { id?: string } | null }).credential?.id;
    if (!credentialId) return;
    const all = statement(
      db,
      `SELECT 1 FROM ${t('endpoints')} WHERE credential_id = ? AND status = 'active' LIMIT 1`,
    ).get(credentialId);
    if (!all) return;
    // Parsed for the defaults older events lack (tags, metadata, ...).
    const accepted = parseMessageEvent(recorded.type, recorded.data) as MessageAccepted;
    event = accepted;
    statement(db, `INSERT OR IGNORE INTO ${t('messages')} VALUES (?, ?, ?)`).run(
      messageId,
      credentialId,
      JSON.stringify(summarizeMessage(accepted.data)),
    );
    endpoints = endpointsOf(credentialId);
  } else {
    const row = statement(
      db,
      `SELECT credential_id AS credentialId FROM ${t('messages')} WHERE message_id = ?`,
    ).get(messageId) as { credentialId: string } | undefined;
    if (!row) return;
    event = { type: recorded.type, data: recorded.data } as MessageEvent;
    endpoints = endpointsOf(row.credentialId);
  }
  if (endpoints.length === 0) return;
  const at = timeOf(event, recorded.recordedAt.getTime());
  statement(db, `INSERT OR IGNORE INTO ${t('events')} VALUES (?, ?, ?, ?, ?)`).run(
    recorded.position,
    messageId,
    recorded.type,
    JSON.stringify(event.data),
    recorded.recordedAt.getTime(),
  );
  const insert = statement(
    db,
    `INSERT OR IGNORE INTO ${t('deliveries')}
     VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, NULL, NULL)`,
  );
  for (const endpoint of endpoints)
    for (const recipient of recipientsOf(event))
      insert.run(endpoint.webhook_id, recorded.position, recipient, messageId, kind, at, at);
};

const wants = (endpoint: EndpointMatch, kind: WebhookEventKind): boolean =>
  webhookFormat(endpoint.format).kinds.has(kind) &&
  (JSON.parse(endpoint.events) as string[]).includes(kind);
