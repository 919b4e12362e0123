import { createCredential } from '../../src/apps/credentials/create-credential.js';
import type { EventStore, RecordedEvent } from '../../src/domain/event-store/event-store.js';
import { findActiveCredential } from '../../src/projections/credentials/credentials.js';
import type { ReadModelDb } from '../../src/projections/runner/read-model-db.js';
import { waitFor } from './relay-harness.js';

/** Creates a credential the way `mailtrail credentials add` does, and waits until AUTH sees it. */
export const addCredential = async (
  relay: { store: EventStore; readDb: ReadModelDb },
  username: string,
  password: string,
): Promise<string> => {
  const [name, domain] = username.split('@') as [string, string];
  const { id } = await createCredential(relay.store, { name, domain, password });
  await waitFor(() => findActiveCredential(relay.readDb, username), 'credential projection');
  return id;
};

export const acceptedMessages = async (store: EventStore): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll({ filter: { eventTypes: ['MessageAccepted'] } })) out.push(e);
  return out;
};

export const streamEvents = async (store: EventStore, stream: string): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const e of store.readStream(stream)) out.push(e);
  return out;
};
