import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  normalizeAddress,
  type SuppressionAdded,
  SuppressionAddedSchema,
  type SuppressionRemoved,
  SuppressionRemovedSchema,
  type SuppressionScope,
  suppressionStream,
} from '../../domain/suppression/suppression.js';

/** How many entries one append carries: an import of a million is a few thousand commits. */
const BATCH = 1000;

/**
 * Appends manual adds or removes to a scope's stream, in batches. A list is a set, so any
 * revision will do (no state to decide from): the projection folds them in log order.
 */
const append = async (
  store: EventStore,
  scope: SuppressionScope,
  events: ReadonlyArray<SuppressionAdded | SuppressionRemoved>,
  onProgress?: (done: number) => void,
): Promise<void> => {
  for (let i = 0; i < events.length; i += BATCH) {
    await store.appendToStream(
      suppressionStream(scope),
      events.slice(i, i + BATCH).map((e) => ({ eventId: randomUUID(), ...e })),
      { expectedRevision: 'any' },
    );
    onProgress?.(Math.min(i + BATCH, events.length));
  }
};

export interface NewSuppression {
  readonly address: string;
  readonly reason: SuppressionAdded['data']['reason'];
  readonly expiresAt: number | null;
  readonly note: string | null;
}

export const addSuppressions = (
  store: EventStore,
  scope: SuppressionScope,
  entries: readonly NewSuppression[],
  at: number,
  onProgress?: (done: number) => void,
): Promise<void> =>
  append(
    store,
    scope,
    entries.map((e) => ({
      type: 'SuppressionAdded',
      data: SuppressionAddedSchema.parse({ ...e, address: normalizeAddress(e.address), at }),
    })),
    onProgress,
  );

export const removeSuppressions = (
  store: EventStore,
  scope: SuppressionScope,
  addresses: readonly string[],
  at: number,
  note: string | null,
): Promise<void> =>
  append(
    store,
    scope,
    addresses.map((address) => ({
      type: 'SuppressionRemoved',
      data: SuppressionRemovedSchema.parse({ address: normalizeAddress(address), at, note }),
    })),
  );
