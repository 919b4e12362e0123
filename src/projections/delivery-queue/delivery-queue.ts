import { domainOf } from '../../domain/address/address.js';
import { partitionOf } from '../../domain/cluster/partition.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { firstDue } from '../../domain/message/decider.js';
import type { MessageEvent } from '../../domain/message/events.js';
import { MESSAGE_STREAM_PREFIX } from '../../domain/message/events.js';
import type { Projection } from '../runner/projection.js';
import { statement } from '../runner/read-model-db.js';

/**
 * One row per (message, recipient): what is due when, and where each recipient stands.
 * The delivery loop asks it what to send; `messages list` asks it what happened.
 */
export const deliveryQueueProjection: Projection = {
  name: 'delivery_queue',
  version: 5,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX] },
  tables: {
    recipients: `
      message_id TEXT NOT NULL,
      recipient TEXT NOT NULL,
      domain TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      due_at INTEGER NOT NULL,
      accepted_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      sender TEXT NOT NULL,
      subject TEXT,
      source TEXT NOT NULL,
      credential TEXT,
      last_reply TEXT,
      lane TEXT NOT NULL,
      pool TEXT,
      -- The message's cluster partition: a node sharing the delivery asks only for its own.
      partition INTEGER NOT NULL,
      PRIMARY KEY (message_id, recipient)`,
  },
  indexes: {
    // Partial: only what is still to send, per lane in due order, so the delivery loop's
    // queries are index range scans however many delivered rows pile up.
    due_pending: "recipients (lane, due_at) WHERE status IN ('queued', 'deferred')",
    by_recipient: 'recipients (recipient)',
    by_accepted: 'recipients (accepted_at)',
  },
  apply: (db, t, events) => {
    const insert = statement(
      db,
      `INSERT OR IGNORE INTO ${t('recipients')} (message_id, recipient, domain, status, attempts,
       due_at, accepted_at, updated_at, sender, subject, source, credential, last_reply, lane, pool, partition)
       VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
    );
    const update = statement(
      db,
      `UPDATE ${t('recipients')} SET status = ?, attempts = ?, due_at = ?, updated_at = ?, last_reply = ?
       WHERE message_id = ? AND recipient = ?`,
    );
    for (const recorded of events) {
      const messageId = recorded.streamName.slice(MESSAGE_STREAM_PREFIX.length);
      const event = recorded as unknown as RecordedEvent & MessageEvent;
      switch (event.type) {
        case 'MessageAccepted': {
          const d = event.data;
          const partition = partitionOf(messageId);
          for (const to of d.envelope.to)
            insert.run(
              messageId,
              to.address,
              domainOf(to.address),
              // Test mode: on record, never due.
              d.testMode ? 'test' : 'queued',
              firstDue(d),
              d.acceptedAt,
              d.acceptedAt,
              d.envelope.from,
              d.headers.subject,
              d.source,
              d.credential?.name ?? null,
              d.lane ?? 'transactional',
              d.pool ?? null,
              partition,
            );
          break;
        }
        case 'RecipientSuppressed': {
          const d = event.data;
          update.run('suppressed', 0, d.at, d.at, null, messageId, d.recipient);
          break;
        }
        case 'DeliveryDeferred':
        case 'MessageDelivered':
        case 'MessageBounced': {
          const d = event.data;
          const [status, dueAt] =
            event.type === 'DeliveryDeferred'
              ? ['deferred', event.data.nextAttemptAt]
              : [event.type === 'MessageDelivered' ? 'delivered' : 'bounced', d.at];
          update.run(
            status,
            d.attempt,
            dueAt,
            d.at,
            JSON.stringify(d.reply),
            messageId,
            d.recipient,
          );
          break;
        }
      }
    }
  },
};
