/**
 * The policy cache against a stand-in policy source (the network side is tested for real in
 * test/mta-sts.test.ts): what is looked up when, what is recorded, what survives a restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryEventStore } from '../../adapters/event-store/memory/memory-event-store.js';
import type { FetchedPolicy, PolicySource } from '../../adapters/mta-sts/policy-source.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { mtaStsStream, type TxtAnswer } from '../../domain/mta-sts/policy.js';
import { createMtaStsPolicies } from './mta-sts-policies.js';

const MIN = 60_000;
const enforce: FetchedPolicy = { mode: 'enforce', mx: ['mx.example.com'], maxAgeSeconds: 86_400 };

const world = (store: EventStore = createMemoryEventStore()) => {
  const calls = { txt: 0, fetch: 0 };
  const state: { txt: TxtAnswer; policy: FetchedPolicy | Error; now: number } = {
    txt: { kind: 'id', id: 'one' },
    policy: enforce,
    now: 1_000_000,
  };
  const source: PolicySource = {
    txt: async () => {
      calls.txt++;
      return state.txt;
    },
    fetch: async () => {
      calls.fetch++;
      if (state.policy instanceof Error) throw state.policy;
      return state.policy;
    },
  };
  const policies = createMtaStsPolicies({
    store,
    source,
    now: () => state.now,
    log: { warn: () => {} },
    recheckMs: 5 * MIN,
  });
  return { store, calls, state, policies };
};

const recorded = async (store: EventStore, domain: string) => {
  const ids: string[] = [];
  for await (const e of store.readStream(mtaStsStream(domain)))
    ids.push((e.data as { id: string }).id);
  return ids;
};

describe('MTA-STS policy cache', () => {
  it('fetches a policy once, records it, and answers from memory until the recheck', async () => {
    const { store, calls, state, policies } = world();
    const [a, b] = await Promise.all([
      policies.policyFor('Example.com'),
      policies.policyFor('example.com'),
    ]);
    assert.equal(a?.mode, 'enforce');
    assert.equal(b, a);
    await policies.policyFor('example.com');
    assert.deepEqual(calls, { txt: 1, fetch: 1 });
    assert.deepEqual(await recorded(store, 'example.com'), ['one']);
    state.now += 5 * MIN;
    await policies.policyFor('example.com');
    assert.deepEqual(calls, { txt: 2, fetch: 1 }, 'the same id: no new fetch');
  });

  it('fetches again when the TXT id changes', async () => {
    const { store, calls, state, policies } = world();
    await policies.policyFor('example.com');
    state.txt = { kind: 'id', id: 'two' };
    state.policy = { ...enforce, mode: 'testing' };
    state.now += 5 * MIN;
    assert.equal((await policies.policyFor('example.com'))?.mode, 'testing');
    assert.equal(calls.fetch, 2);
    assert.deepEqual(await recorded(store, 'example.com'), ['one', 'two']);
  });

  it('keeps the cached policy when a new one cannot be fetched, and does not hammer its host', async () => {
    const { calls, state, policies } = world();
    await policies.policyFor('example.com');
    state.txt = { kind: 'id', id: 'two' };
    state.policy = new Error('policy host down');
    state.now += 5 * MIN;
    assert.equal((await policies.policyFor('example.com'))?.id, 'one');
    policies.recheck('example.com');
    assert.equal((await policies.policyFor('example.com'))?.id, 'one');
    assert.equal(calls.fetch, 2, 'no second try within five minutes');
  });

  it('with no policy fetched ever, a failed fetch means none', async () => {
    const { state, policies } = world();
    state.policy = new Error('policy host down');
    assert.equal(await policies.policyFor('example.com'), null);
  });

  it('after a restart, applies the recorded policy though the TXT record is gone', async () => {
    const first = world();
    await first.policies.policyFor('example.com');
    const second = world(first.store);
    second.state.txt = { kind: 'none' };
    second.state.now = first.state.now + 60 * MIN;
    assert.equal((await second.policies.policyFor('example.com'))?.id, 'one');
    assert.equal(second.calls.fetch, 0);
    second.state.now = first.state.now + 86_400_000;
    second.policies.recheck('example.com');
    assert.equal(await second.policies.policyFor('example.com'), null, 'expired: none');
  });

  it('a policy of max_age 0 is still fetched at most once per recheck', async () => {
    const { calls, state, policies } = world();
    state.policy = { ...enforce, maxAgeSeconds: 0 };
    for (let i = 0; i < 3; i++) await policies.policyFor('example.com');
    assert.equal(calls.fetch, 1);
  });

  it('records a policy fetched again unchanged at most once a day, a changed one at once', async () => {
    const { store, calls, state, policies } = world();
    state.policy = { ...enforce, maxAgeSeconds: 3600 };
    await policies.policyFor('example.com');
    for (let i = 0; i < 4; i++) {
      state.now += 31 * MIN; // past half its max_age: fetched again
      policies.recheck('example.com');
      await policies.policyFor('example.com');
    }
    assert.equal(calls.fetch, 5);
    assert.deepEqual(await recorded(store, 'example.com'), ['one'], 'unchanged: once');
    state.policy = { ...enforce, maxAgeSeconds: 3600, mx: ['mx2.example.com'] };
    state.now += 31 * MIN;
    await policies.policyFor('example.com');
    assert.deepEqual(await recorded(store, 'example.com'), ['one', 'one']);
  });

  it('refreshes a policy past half its age though its TXT record has been hidden', async () => {
    const { calls, state, policies } = world();
    await policies.policyFor('example.com');
    state.txt = { kind: 'none' };
    state.now += 13 * 60 * MIN;
    policies.recheck('example.com');
    const refreshed = await policies.policyFor('example.com');
    assert.equal(calls.fetch, 2);
    assert.deepEqual([refreshed?.id, refreshed?.fetchedAt], ['one', state.now]);
  });

  it('recheck looks up the TXT record at the next delivery', async () => {
    const { calls, policies } = world();
    await policies.policyFor('example.com');
    policies.recheck('example.com');
    await policies.policyFor('example.com');
    assert.equal(calls.txt, 2);
  });
});
