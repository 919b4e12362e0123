import { randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import { generatePassword, hashPassword } from '../../adapters/password/scrypt-password.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../domain/credential/credential.js';
import type { EventStore } from '../../domain/event-store/event-store.js';

export interface NewCredential {
  readonly id: string;
  readonly username: string;
  /** Shown to the operator once; only its scrypt hash is stored. */
  readonly password: string;
}

/** `<name>@<domain>`, or the name itself when it is already an address. */
export const credentialUsername = (name: string, domain: string): string =>
  name.includes('@') ? name : `${name}@${domain.toLowerCase()}`;

/**
 * Creates an SMTP credential for a sending domain: `<name>@<domain>` unless the name is
 * already an address, with a generated password.
 */
export const createCredential = async (
  store: EventStore,
  input: {
    readonly name: string;
    readonly domain: string;
    readonly password?: string;
    /** The egress pool its mail leaves from; none: the default pool. */
    readonly pool?: string | null;
    /** One-click unsubscribe headers: on, off, or (none) on bulk mail only. */
    readonly unsubscribe?: 'on' | 'off' | null;
    /** Where it may authenticate from (CIDR); none: anywhere. */
    readonly allowedNetworks?: readonly string[];
  },
): Promise<NewCredential> => {
  const id = ulid();
  const domain = input.domain.toLowerCase();
  const username = credentialUsername(input.name, domain);
  const password = input.password ?? generatePassword();
  await handleCommand(
    store,
    credentialStream(id),
    credentialDecider,
    {
      type: 'CreateCredential',
      data: {
        credentialId: id,
        name: input.name,
        username,
        passwordHash: await hashPassword(password),
        domains: [domain],
        pool: input.pool ?? null,
        unsubscribe: input.unsubscribe ?? null,
        allowedNetworks: [...(input.allowedNetworks ?? [])],
        createdAt: Date.now(),
      },
    },
    { newEventId: () => randomUUID() },
  );
  return { id, username, password };
};
