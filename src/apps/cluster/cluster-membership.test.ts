import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryEventStore } from '../../adapters/event-store/memory/memory-event-store.js';
import { partitionsOf } from '../../domain/cluster/assignment.js';
import { PARTITIONS } from '../../domain/cluster/partition.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { readAssignment, startClusterMembership } from './cluster-membership.js';

const HEARTBEAT_MS = 20;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const until = async (probe: () => boolean | Promise<boolean>, what: string, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const member = (store: EventStore, node: string, busy: Set<number> = new Set(), leaseMs = 60_000) =>
  startClusterMembership({
    store,
    node,
    heartbeatMs: HEARTBEAT_MS,
    leaseMs,
    busyPartitions: () => busy,
    onChange: () => undefined,
    now: Date.now,
    log: quiet,
  });

/** A node's view of the log that fails while it is cut off (its process hung, its network gone). */
const cuttable = (store: EventStore) => {
  let cut = false;
  const cutOff = (fn: (...args: never[]) => unknown) =>
    ((...args: never[]) => {
      if (cut) throw new Error('connection to the log lost');
      return fn(...args);
    }) as never;
  return {
    store: {
      ...store,
      appendToStream: cutOff(store.appendToStream),
      readStream: cutOff(store.readStream),
    } as EventStore,
    cut: (on: boolean) => {
      cut = on;
    },
  };
};

describe('cluster membership', () => {
  it('the first node owns and works on every partition', async () => {
    const store = createMemoryEventStore();
    const a = await member(store, 'a');
    assert.equal(a.view().active.size, PARTITIONS);
    assert.equal(a.view().liveNodes, 1);
    await a.stop();
  });

  it('a joining node starts on what it gained only once the previous owner is done there', async () => {
    const store = createMemoryEventStore();
    // a is in the middle of an attempt in every partition.
    const busy = new Set(Array.from({ length: PARTITIONS }, (_, p) => p));
    const a = await member(store, 'a', busy);
    const b = await member(store, 'b');
    const { state } = await readAssignment(store);
    const gained = partitionsOf(state, 'b');
    assert.equal(gained.length, PARTITIONS / 2);
    await until(
      () => a.view().liveNodes === 2 && a.view().active.size === PARTITIONS / 2,
      'a lets go',
    );
    // a stopped starting work there, but its attempts are still under way: b waits.
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 5));
    assert.equal(b.view().active.size, 0);
    assert.ok(gained.every((p) => !a.view().active.has(p)));
    busy.clear();
    await until(() => b.view().active.size === PARTITIONS / 2, 'b takes its share');
    assert.ok(gained.every((p) => b.view().active.has(p)));
    await b.stop();
    await a.stop();
  });

  it('a node stopping cleanly hands its share over at once, not a lease later', async () => {
    const store = createMemoryEventStore();
    const a = await member(store, 'a');
    const b = await member(store, 'b');
    await until(() => a.view().active.size + b.view().active.size === PARTITIONS, 'shared');
    const started = Date.now();
    await b.stop();
    await until(() => a.view().active.size === PARTITIONS, 'a has everything');
    assert.ok(Date.now() - started < 60_000 / 10, 'well within the lease');
    assert.equal(a.view().liveNodes, 1);
    await a.stop();
  });

  it('a node cut off from the log loses its share a lease later, and stops working itself', async () => {
    const store = createMemoryEventStore();
    const bLink = cuttable(store);
    // Long enough that a pause of the test's own event loop does not look like a cut.
    const LEASE_MS = 500;
    const a = await member(store, 'a', new Set(), LEASE_MS);
    const b = await member(bLink.store, 'b', new Set(), LEASE_MS);
    await until(() => b.view().active.size === PARTITIONS / 2, 'shared');
    bLink.cut(true);
    const started = Date.now();
    await until(() => a.view().active.size === PARTITIONS, 'a takes everything');
    // a may have seen b's last heartbeat up to one heartbeat before the cut.
    assert.ok(Date.now() - started >= LEASE_MS - HEARTBEAT_MS, 'not before the lease ran out');
    assert.equal(b.view().active.size, 0, 'b stopped working on its own');
    assert.ok(!b.view().active.has(0) && a.view().active.has(0));
    const { state } = await readAssignment(store);
    assert.deepEqual(state?.nodes, ['a']);
    bLink.cut(false);
    // Back in touch, b rejoins and gets a share again.
    await until(() => b.view().active.size === PARTITIONS / 2, 'b rejoins');
    await b.stop();
    await a.stop();
  });

  it('a node back after being cut off takes its share again only once the other let go of it', async () => {
    const store = createMemoryEventStore();
    const bLink = cuttable(store);
    const aBusy = new Set<number>();
    const a = await member(store, 'a', aBusy, 500);
    const b = await member(bLink.store, 'b', new Set(), 500);
    await until(() => b.view().active.size === PARTITIONS / 2, 'shared');
    bLink.cut(true);
    await until(() => a.view().active.size === PARTITIONS, 'a takes everything');
    // a is now busy in every partition when b comes back.
    for (let p = 0; p < PARTITIONS; p++) aBusy.add(p);
    bLink.cut(false);
    await until(async () => (await readAssignment(store)).state?.nodes.length === 2, 'b rejoined');
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 5));
    assert.equal(b.view().active.size, 0, 'nothing while a is still at work there');
    aBusy.clear();
    await until(() => b.view().active.size === PARTITIONS / 2, 'b works on its share');
    await until(() => a.view().active.size === PARTITIONS / 2, 'a on its own');
    await b.stop();
    await a.stop();
  });

  it('two processes under one name both stop working, and say why', async () => {
    const store = createMemoryEventStore();
    const errors: string[] = [];
    const log = { ...quiet, error: (_: object, msg: string) => void errors.push(msg) };
    const twin = () =>
      startClusterMembership({
        store,
        node: 'same-host',
        heartbeatMs: HEARTBEAT_MS,
        leaseMs: 60_000,
        busyPartitions: () => new Set(),
        onChange: () => undefined,
        now: Date.now,
        log,
      });
    const first = await twin();
    const second = await twin();
    await until(
      () => first.view().active.size === 0 && second.view().active.size === 0,
      'both stand down',
    );
    assert.ok(errors.some((m) => /another process heartbeats as this node/.test(m)));
    await first.stop();
    await second.stop();
  });
});
