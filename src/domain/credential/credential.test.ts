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
    allowedNetworks: [],
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

describe('credential allowed networks', () => {
  it('sets them, and setting the same ones again adds nothing', () => {
    const set = {
      type: 'SetAllowedNetworks',
      credentialId: 'c1',
      allowedNetworks: ['192.0.2.0/24', '2001:db8::/32'],
      at: 5,
    } as const;
    const events = decideCredential(set, fold([created]));
    assert.deepEqual(events, [
      {
        type: 'CredentialNetworksSet',
        data: { credentialId: 'c1', allowedNetworks: ['192.0.2.0/24', '2001:db8::/32'], at: 5 },
      },
    ]);
    assert.deepEqual(decideCredential(set, fold([created, ...events])), []);
    assert.deepEqual(
      decideCredential({ ...set, allowedNetworks: [] }, fold([created, ...events])).map(
        (e) => e.data,
      ),
      [{ credentialId: 'c1', allowedNetworks: [], at: 5 }],
    );
  });
});

describe('credential pause and resume', () => {
  const pause = { type: 'PauseCredential', credentialId: 'c1', reason: 'leak', at: 6 } as const;
  const resume = { type: 'ResumeCredential', credentialId: 'c1', at: 7 } as const;

  it('pauses once, resumes once', () => {
    const paused = decideCredential(pause, fold([created]));
    assert.deepEqual(paused, [
      {
        type: 'CredentialPaused',
        data: { credentialId: 'c1', by: 'operator', reason: 'leak', at: 6 },
      },
    ]);
    assert.deepEqual(decideCredential(pause, fold([created, ...paused])), []);
    const resumed = decideCredential(resume, fold([created, ...paused]));
    assert.deepEqual(resumed, [{ type: 'CredentialResumed', data: { credentialId: 'c1', at: 7 } }]);
    assert.deepEqual(decideCredential(resume, fold([created, ...paused, ...resumed])), []);
  });

  it('a revoked credential cannot be paused', () => {
    const revoked = {
      type: 'CredentialRevoked',
      data: { credentialId: 'c1', revokedAt: 2 },
    } as const;
    assert.throws(
      () => decideCredential(pause, fold([created, revoked])),
      (e) => e instanceof CredentialError && e.code === 'CredentialRevoked',
    );
  });

  it('an anomaly is recorded, and pauses the credential when asked to', () => {
    const anomaly = {
      credentialId: 'c1',
      name: 'app',
      kind: 'volume-spike',
      figures: { lastHour: 5000, baselinePerHour: 50, factor: 100 },
      summary: '5000 messages in the last hour, 100× its usual 50',
      detectedAt: 8,
    } as const;
    const recordOnly = decideCredential(
      { type: 'RecordAnomaly', data: anomaly, pause: false },
      fold([created]),
    );
    assert.deepEqual(
      recordOnly.map((e) => e.type),
      ['CredentialAnomalyDetected'],
    );
    const withPause = decideCredential(
      { type: 'RecordAnomaly', data: anomaly, pause: true },
      fold([created]),
    );
    assert.deepEqual(withPause[1], {
      type: 'CredentialPaused',
      data: { credentialId: 'c1', by: 'anomaly', reason: anomaly.summary, at: 8 },
    });
    // Already paused: the anomaly is still recorded, the pause is not repeated.
    assert.deepEqual(
      decideCredential(
        { type: 'RecordAnomaly', data: anomaly, pause: true },
        fold([created, ...withPause]),
      ).map((e) => e.type),
      ['CredentialAnomalyDetected'],
    );
  });
});
