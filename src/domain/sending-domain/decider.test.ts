import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decide,
  evolve,
  initialState,
  type SendingDomainCommand,
  SendingDomainError,
  type SendingDomainErrorCode,
} from './decider.js';
import type { DkimPublicKey, SendingDomainEvent } from './events.js';

const keys = (tag: string): DkimPublicKey[] => [
  { selector: `${tag}-rsa`, algorithm: 'rsa-sha256', publicKey: `RSA${tag}` },
  { selector: `${tag}-ed`, algorithm: 'ed25519-sha256', publicKey: `ED${tag}` },
];

const added: SendingDomainEvent[] = [
  {
    type: 'DomainAdded',
    data: { domain: 'shop.test', credential: { id: 'c1', name: 'shop' }, addedAt: 1 },
  },
  { type: 'DkimKeysGenerated', data: { generation: 1, keys: keys('g1'), at: 1 } },
  { type: 'DkimKeysActivated', data: { generation: 1, at: 1, reason: 'added' } },
];

// Given these events, when this command, then these events (or this error).
const given = (events: SendingDomainEvent[]) => ({
  when: (command: SendingDomainCommand) => ({
    yields: (expected: SendingDomainEvent[]) =>
      assert.deepEqual(decide(command, events.reduce(evolve, initialState)), expected),
    fails: (code: SendingDomainErrorCode) =>
      assert.throws(
        () => decide(command, events.reduce(evolve, initialState)),
        (e) => e instanceof SendingDomainError && e.code === code,
      ),
  }),
});

describe('sending domain decider', () => {
  it('adds a domain whose first keys sign at once', () => {
    given([])
      .when({
        type: 'AddDomain',
        domain: 'shop.test',
        credential: { id: 'c1', name: 'shop' },
        keys: keys('g1'),
        at: 1,
      })
      .yields(added);
  });

  it('refuses to add a domain twice', () => {
    given(added)
      .when({ type: 'AddDomain', domain: 'shop.test', credential: null, keys: keys('x'), at: 2 })
      .fails('DomainExists');
  });

  it('rotation makes a pending generation; the old keys keep signing', () => {
    given(added)
      .when({ type: 'RotateKeys', keys: keys('g2'), activateNow: false, at: 5 })
      .yields([{ type: 'DkimKeysGenerated', data: { generation: 2, keys: keys('g2'), at: 5 } }]);
  });

  it('rotation --now activates the new generation and retires the old one', () => {
    given(added)
      .when({ type: 'RotateKeys', keys: keys('g2'), activateNow: true, at: 5 })
      .yields([
        { type: 'DkimKeysGenerated', data: { generation: 2, keys: keys('g2'), at: 5 } },
        { type: 'DkimKeysActivated', data: { generation: 2, at: 5, reason: 'forced' } },
        { type: 'DkimKeysRetired', data: { generation: 1, at: 5 } },
      ]);
  });

  it('one rotation at a time, and never a selector used before', () => {
    const rotated: SendingDomainEvent[] = [
      ...added,
      { type: 'DkimKeysGenerated', data: { generation: 2, keys: keys('g2'), at: 5 } },
    ];
    given(rotated)
      .when({ type: 'RotateKeys', keys: keys('g3'), activateNow: false, at: 6 })
      .fails('RotationPending');
    given(added)
      .when({ type: 'RotateKeys', keys: keys('g1'), activateNow: false, at: 6 })
      .fails('SelectorInUse');
  });

  it('published keys take over; activating them again decides nothing', () => {
    const rotated: SendingDomainEvent[] = [
      ...added,
      { type: 'DkimKeysGenerated', data: { generation: 2, keys: keys('g2'), at: 5 } },
    ];
    const activate = { type: 'ActivateKeys', generation: 2, reason: 'published', at: 9 } as const;
    const switched: SendingDomainEvent[] = [
      { type: 'DkimKeysActivated', data: { generation: 2, at: 9, reason: 'published' } },
      { type: 'DkimKeysRetired', data: { generation: 1, at: 9 } },
    ];
    given(rotated).when(activate).yields(switched);
    given([...rotated, ...switched])
      .when(activate)
      .yields([]);
    given([...rotated, ...switched])
      .when({ ...activate, generation: 1 })
      .fails('NoSuchGeneration');
  });

  it('retired keys are removed only after the grace period', () => {
    const retired: SendingDomainEvent[] = [
      ...added,
      { type: 'DkimKeysGenerated', data: { generation: 2, keys: keys('g2'), at: 5 } },
      { type: 'DkimKeysActivated', data: { generation: 2, at: 10, reason: 'published' } },
      { type: 'DkimKeysRetired', data: { generation: 1, at: 10 } },
    ];
    given(retired).when({ type: 'RemoveRetiredKeys', graceMs: 100, at: 109 }).yields([]);
    given(retired)
      .when({ type: 'RemoveRetiredKeys', graceMs: 100, at: 110 })
      .yields([{ type: 'DkimKeysRemoved', data: { generation: 1, at: 110 } }]);
  });

  it('commands on a domain that was never added fail', () => {
    given([])
      .when({ type: 'RotateKeys', keys: keys('g1'), activateNow: false, at: 1 })
      .fails('DomainNotFound');
  });
});
