import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CredentialCreated,
  CredentialError,
  type CredentialEvent,
  decideCredential,
  evolveCredential,
} from './credential.js';

const created: CredentialCreated = {
  type: 'CredentialCreated',
  data: {
    credentialId: 'c1',
    name: 'app',
    username: 'app@sender.test',
    passwordHash: 'scrypt$x',
    domains: ['sender.test'],
    pool: null,
    unsubscribe: null,
    createdAt: 1,
  },
};
const fold = (events: CredentialEvent[]) =>
  events.reduce(evolveCredential, { status: 'absent' } as const as Parameters<
    typeof evolveCredential
  >[0]);

describe('credential decider', () => {
  it('creates once', () => {
    assert.deepEqual(decideCredential({ type: 'CreateCredential', data: created.data }, fold([])), [
      created,
    ]);
    assert.throws(
      () => decideCredential({ type: 'CreateCredential', data: created.data }, fold([created])),
      (e) => e instanceof CredentialError && e.code === 'CredentialExists',
    );
  });

  it('revokes an active credential, and a second revoke adds nothing', () => {
    const revoke = { type: 'RevokeCredential', credentialId: 'c1', at: 2 } as const;
    const events = decideCredential(revoke, fold([created]));
    assert.deepEqual(events, [
      { type: 'CredentialRevoked', data: { credentialId: 'c1', revokedAt: 2 } },
    ]);
    assert.deepEqual(decideCredential(revoke, fold([created, ...events])), []);
    assert.throws(
      () => decideCredential(revoke, fold([])),
      (e) => e instanceof CredentialError,
    );
  });
});
