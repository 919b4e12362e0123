import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileKeyStore } from '../../src/adapters/dkim-keys/file-key-store.js';
import { createCredential } from '../../src/apps/credentials/create-credential.js';
import { addSendingDomain } from '../../src/apps/domains/sending-domains.js';
import { dataPaths } from '../../src/apps/relay/data-paths.js';
import type { EventStore, RecordedEvent } from '../../src/domain/event-store/event-store.js';
import { messageStream } from '../../src/domain/message/events.js';
import { derivedKey } from '../../src/domain/verp/verp.js';
import { findActiveCredential } from '../../src/projections/credentials/credentials.js';
import type { ReadModelDb } from '../../src/projections/runner/read-model-db.js';
import { isSendingDomain } from '../../src/projections/sending-domains/sending-domains.js';
import { type TestRelay, waitFor } from './relay-harness.js';

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

const OUTCOMES = ['MessageDelivered', 'DeliveryDeferred', 'MessageBounced'];

/** The first attempt outcome recorded for a message (delivered, deferred, bounced). */
export const firstOutcome = (store: EventStore, messageId: string): Promise<RecordedEvent> =>
  waitFor(
    async () =>
      (await streamEvents(store, messageStream(messageId))).find((e) => OUTCOMES.includes(e.type)),
    `an outcome for ${messageId}`,
  );

/** Onboards a sending domain (no credential) and waits until acceptance sees it. */
export const onboardDomain = async (relay: TestRelay, domain: string): Promise<void> => {
  await addSendingDomain(
    {
      store: relay.store,
      readDb: relay.readDb,
      keyStore: createFileKeyStore(dataPaths(relay.config).keys),
      settings: { egressAddresses: [], bounceHost: 'relay.test', returnPathPrefix: 'bounces' },
      now: Date.now,
    },
    { domain, credential: null },
  );
  await waitFor(() => isSendingDomain(relay.readDb, domain), `${domain} onboarded`);
};

/** The relay's VERP key (data/keys/verp.key) and the unsubscribe key derived from it. */
export const relayKeys = (relay: TestRelay): { verp: Buffer; unsubscribe: Buffer } => {
  const verp = Buffer.from(
    readFileSync(join(dataPaths(relay.config).keys, 'verp.key'), 'utf8').trim(),
    'hex',
  );
  return { verp, unsubscribe: derivedKey(verp, 'unsubscribe') };
};
