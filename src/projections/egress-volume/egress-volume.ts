import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { MESSAGE_STREAM_PREFIX, type MessageEvent } from '../../domain/message/events.js';
import { utcDay } from '../../domain/warmup/warmup.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/**
 * Deliveries per egress source, site and UTC day: what a warming source has sent today,
 * which survives a restart because it is folded from the log.
 */
export const egressVolumeProjection: Projection = {
  name: 'egress_volume',
  version: 1,
  filter: { streamPrefixes: [MESSAGE_STREAM_PREFIX] },
  tables: {
    daily: `source TEXT NOT NULL, site TEXT NOT NULL, day INTEGER NOT NULL,
      delivered INTEGER NOT NULL, PRIMARY KEY (source, site, day)`,
  },
  indexes: {},
  apply: (db, t, events) => {
    const add = statement(
      db,
      `INSERT INTO ${t('daily')} VALUES (?, ?, ?, 1)
       ON CONFLICT (source, site, day) DO UPDATE SET delivered = delivered + 1`,
    );
    for (const recorded of events) {
      const event = recorded as unknown as RecordedEvent & MessageEvent;
      if (event.type !== 'MessageDelivered' || !event.data.source || !event.data.site) continue;
      add.run(event.data.source, event.data.site, utcDay(event.data.at));
    }
  },
};

const t = liveTables(egressVolumeProjection);

/** Recipients a source delivered to a site on a UTC day. */
export const deliveredOn = (db: ReadModelDb, source: string, site: string, day: number): number =>
  (
    statement(
      db,
      `SELECT delivered FROM ${t('daily')} WHERE source = ? AND site = ? AND day = ?`,
    ).get(source, site, day) as { delivered: number } | undefined
  )?.delivered ?? 0;
