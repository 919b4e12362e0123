import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRate } from '../shaping/rate.js';
import {
  type AssignmentState,
  balance,
  decideAssignment,
  evolveAssignment,
  type PartitionsAssigned,
  partitionsOf,
} from './assignment.js';
import { activePartitions, isAlive, type PeerSighting, sightPeer } from './heartbeat.js';
import { shareLimits } from './limit-share.js';
import { PARTITIONS, partitionOf } from './partition.js';

/** given events, when a rebalance to `live`, then these events. */
const given = (...events: PartitionsAssigned[]) => {
  const state = events.reduce<AssignmentState>(evolveAssignment, null);
  return {
    when: (...live: string[]) => decideAssignment({ type: 'Rebalance', at: 1, live }, state),
  };
};
const assigned = (live: string[], previous?: PartitionsAssigned) =>
  given(...(previous ? [previous] : [])).when(...live)[0] as PartitionsAssigned;
const counts = (owners: readonly string[]): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const o of owners) c[o] = (c[o] ?? 0) + 1;
  return c;
};

describe('partitions', () => {
  it('a message id always falls in the same partition, and ids spread over all of them', () => {
    const ids = Array.from({ length: 6400 }, (_, i) => `01JD${i.toString(36).padStart(22, '0')}`);
    assert.equal(partitionOf(ids[7] as string), partitionOf(ids[7] as string));
    const perPartition = counts(ids.map((id) => String(partitionOf(id))));
    assert.equal(Object.keys(perPartition).length, PARTITIONS);
    // Sortable ids share long prefixes; the hash must still spread them (100 each on average).
    for (const n of Object.values(perPartition)) assert.ok(n > 50 && n < 150, `${n}`);
  });
});

describe('cluster assignments (given/when/then)', () => {
  it('the first node takes every partition', () => {
    const [event] = given().when('a');
    assert.deepEqual(event?.data.nodes, ['a']);
    assert.deepEqual(new Set(event?.data.owners), new Set(['a']));
    assert.deepEqual(event?.data.joined, ['a']);
  });

  it('the same live nodes decide nothing, whatever order they are named in', () => {
    const ab = assigned(['a', 'b']);
    assert.deepEqual(given(ab).when('b', 'a'), []);
    assert.deepEqual(given(ab).when('a', 'b', 'b'), []);
  });

  it('a node joining takes an even share, only from the others, and nothing else moves', () => {
    const ab = assigned(['a', 'b']);
    const abc = assigned(['a', 'b', 'c'], ab);
    assert.deepEqual(abc.data.joined, ['c']);
    assert.deepEqual(Object.values(counts(abc.data.owners)).sort(), [21, 21, 22]);
    const moved = abc.data.owners.filter((o, p) => o !== ab.data.owners[p]);
    assert.ok(
      moved.every((o) => o === 'c'),
      'only the new node gains',
    );
    assert.equal(moved.length, counts(abc.data.owners).c);
  });

  it("a dead node's partitions go to the survivors; theirs stay where they were", () => {
    const abc = assigned(['a', 'b', 'c'], assigned(['a', 'b']));
    const ac = assigned(['a', 'c'], abc);
    assert.deepEqual(ac.data.left, ['b']);
    assert.deepEqual(counts(ac.data.owners), { a: 32, c: 32 });
    abc.data.owners.forEach((owner, p) => {
      if (owner !== 'b') assert.equal(ac.data.owners[p], owner, `partition ${p} moved`);
    });
  });

  it('a node rejoining gets a new revision with the same table, naming it as joined', () => {
    const ab = assigned(['a', 'b']);
    const [again] = given(ab)
      .when('a', 'b')
      .concat(
        decideAssignment(
          { type: 'Rebalance', at: 2, live: ['a', 'b'], rejoining: 'b' },
          evolveAssignment(null, ab),
        ),
      );
    assert.deepEqual(again?.data.owners, ab.data.owners);
    assert.deepEqual(again?.data.joined, ['b']);
    assert.deepEqual(again?.data.left, []);
  });

  it('no live nodes decide nothing (the table is never emptied)', () => {
    assert.deepEqual(given(assigned(['a'])).when(), []);
  });

  it('balance gives every node within one of every other, for 1 to 7 nodes', () => {
    let owners: string[] | null = null;
    for (let k = 1; k <= 7; k++) {
      const nodes = Array.from({ length: k }, (_, i) => `n${i}`);
      owners = balance(owners, nodes);
      const c = Object.values(counts(owners));
      assert.equal(c.length, k);
      assert.ok(Math.max(...c) - Math.min(...c) <= 1);
    }
  });

  it('partitionsOf lists a node’s partitions', () => {
    const ab = evolveAssignment(null, assigned(['a', 'b']));
    assert.equal(partitionsOf(ab, 'a').length + partitionsOf(ab, 'b').length, PARTITIONS);
    assert.deepEqual(partitionsOf(ab, 'z'), []);
    assert.deepEqual(partitionsOf(null, 'a'), []);
  });
});

describe('heartbeats and handoff', () => {
  const beat = (revision: bigint, adopted: number | null, leaving = false) => ({
    revision,
    data: { at: 0, instance: 'i1', adopted, leaving },
  });

  it('a peer is alive while its stream moves, dead a lease after it stops, gone at once when leaving', () => {
    let peer = sightPeer(undefined, beat(3n, 0), 1_000);
    assert.ok(isAlive(peer, 1_000, 30_000));
    peer = sightPeer(peer, beat(3n, 0), 20_000);
    assert.equal(peer.changedAt, 1_000, 'the same revision is no news');
    assert.ok(isAlive(peer, 31_000, 30_000));
    assert.ok(!isAlive(peer, 31_001, 30_000));
    peer = sightPeer(peer, beat(4n, 0), 31_001);
    assert.ok(isAlive(peer, 31_001, 30_000), 'a new heartbeat brings it back');
    assert.ok(!isAlive(sightPeer(peer, beat(5n, 0, true), 31_002), 31_002, 30_000));
  });

  it('a peer with no heartbeat yet is given one lease from when it was first seen', () => {
    const peer = sightPeer(undefined, null, 5_000);
    assert.ok(isAlive(peer, 35_000, 30_000));
    assert.ok(!isAlive(sightPeer(peer, null, 35_001), 35_001, 30_000));
  });

  const peer = (adopted: number | null): PeerSighting => ({
    revision: 1n,
    changedAt: 0,
    adopted,
    leaving: false,
  });

  it('lost partitions stop at once; gained ones wait until every live peer adopted the change', () => {
    const previous = new Set([0, 1, 2]);
    const waiting = activePartitions({
      previous,
      mine: [1, 2, 3],
      revision: 5,
      livePeers: [peer(4)],
    });
    assert.deepEqual([...waiting].sort(), [1, 2]);
    const settled = activePartitions({
      previous,
      mine: [1, 2, 3],
      revision: 5,
      livePeers: [peer(5)],
    });
    assert.deepEqual([...settled].sort(), [1, 2, 3]);
    const unknown = activePartitions({ previous, mine: [3], revision: 5, livePeers: [peer(null)] });
    assert.deepEqual([...unknown], []);
  });

  it('alone (every peer dead), a node takes its whole share at once', () => {
    assert.deepEqual(
      [...activePartitions({ previous: new Set(), mine: [7, 8], revision: 9, livePeers: [] })],
      [7, 8],
    );
  });
});

describe('limits shared among nodes', () => {
  const limits = {
    maxConnections: 5,
    messageRate: parseRate('300/m') ?? null,
    connectionRate: parseRate('10/s') ?? null,
    tls: 'opportunistic' as const,
  };

  it('one node keeps the limits as they are', () => {
    assert.equal(shareLimits(limits, 1), limits);
  });

  it('three nodes: rates divided exactly, connections rounded up, other values untouched', () => {
    const share = shareLimits(limits, 3);
    assert.equal(share.maxConnections, 2);
    assert.equal(share.messageRate?.count, 100);
    assert.equal(share.messageRate?.perMs, 60_000);
    assert.ok(Math.abs((share.connectionRate?.count ?? 0) * 3 - 10) < 1e-9);
    assert.equal(share.tls, 'opportunistic');
  });

  it('a one-connection site still gets a connection from every node', () => {
    assert.equal(shareLimits({ ...limits, maxConnections: 1 }, 4).maxConnections, 1);
  });

  it('no rate stays no rate', () => {
    assert.equal(shareLimits({ ...limits, messageRate: null }, 2).messageRate, null);
  });
});
