import { randomUUID } from 'node:crypto';
import { hashPassword } from '../../src/adapters/password/scrypt-password.js';
import { handleCommand } from '../../src/domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../src/domain/credential/credential.js';
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
  const id = randomUUID();
  await handleCommand(
    relay.store,
    credentialStream(id),
    credentialDecider,
    {
      type: 'CreateCredential',
      data: {
        credentialId: id,
        name: username.split('@')[0] as string,
        username,
        passwordHash: await hashPassword(password),
        domains: [username.split('@')[1] as string],
        createdAt: Date.now(),
      },
    },
    { newEventId: () => randomUUID() },
  );
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
