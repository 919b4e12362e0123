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

describe('credential API keys', () => {
  const key = {
    credentialId: 'c1',
    keyId: 'k1',
    keyHash: 'a'.repeat(64),
    hint: 'wxyz',
    createdAt: 3,
  };
  const keyCreated = { type: 'ApiKeyCreated', data: key } as const;

  it('adds a key to an active credential only', () => {
    assert.deepEqual(decideCredential({ type: 'CreateApiKey', data: key }, fold([created])), [
      keyCreated,
    ]);
    const revoked = {
      type: 'CredentialRevoked',
      data: { credentialId: 'c1', revokedAt: 2 },
    } as const;
    assert.throws(
      () => decideCredential({ type: 'CreateApiKey', data: key }, fold([created, revoked])),
      (e) => e instanceof CredentialError && e.code === 'CredentialRevoked',
    );
    assert.throws(
      () => decideCredential({ type: 'CreateApiKey', data: key }, fold([])),
      (e) => e instanceof CredentialError && e.code === 'CredentialNotFound',
    );
  });

  it('revokes a key in force, and refuses one it does not have', () => {
    const revoke = { type: 'RevokeApiKey', credentialId: 'c1', keyId: 'k1', at: 4 } as const;
    const events = decideCredential(revoke, fold([created, keyCreated]));
    assert.deepEqual(events, [
      { type: 'ApiKeyRevoked', data: { credentialId: 'c1', keyId: 'k1', revokedAt: 4 } },
    ]);
    assert.throws(
      () => decideCredential(revoke, fold([created, keyCreated, ...events])),
      (e) => e instanceof CredentialError && e.code === 'ApiKeyNotFound',
    );
  });
});
