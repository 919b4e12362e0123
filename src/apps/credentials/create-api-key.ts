import { randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import { generateApiKey, hashApiKey } from '../../adapters/api-keys/api-key.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../domain/credential/credential.js';
import type { EventStore } from '../../domain/event-store/event-store.js';

export interface NewApiKey {
  readonly keyId: string;
  /** Shown to the operator once; only its SHA-256 is stored. */
  readonly apiKey: string;
}

/** Gives a credential a new HTTP API key (Mailgun, SendGrid and Postmark fronts alike). */
export const createApiKey = async (
  store: EventStore,
  credentialId: string,
  key: string = generateApiKey(),
): Promise<NewApiKey> => {
  const keyId = ulid();
  await handleCommand(
    store,
    credentialStream(credentialId),
    credentialDecider,
    {
      type: 'CreateApiKey',
      data: {
        credentialId,
        keyId,
        keyHash: hashApiKey(key),
        hint: key.slice(-4),
        createdAt: Date.now(),
      },
    },
    { newEventId: () => randomUUID() },
  );
  return { keyId, apiKey: key };
};
