import { randomUUID } from 'node:crypto';
import {
  ASSIGNMENTS_STREAM,
  type AssignmentState,
  assignmentDecider,
  evolveAssignment,
  type PartitionsAssigned,
  partitionsOf,
} from '../../domain/cluster/assignment.js';
import {
  activePartitions,
  isAlive,
  type NodeHeartbeat,
  NodeHeartbeatSchema,
  nodeStream,
  type PeerSighting,
  sightPeer,
} from '../../domain/cluster/heartbeat.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import {
  type EventStore,
  type ExpectedRevision,
  isEventStoreError,
} from '../../domain/event-store/event-store.js';

export interface ClusterMembershipDeps {
  readonly store: EventStore;
  /** This node's name (config `hostname`): unique in the cluster. */
  readonly node: string;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  /** The partitions of the attempts under way on this node (the delivery loop's). */
  readonly busyPartitions: () => ReadonlySet<number>;
  /** The partitions this node may work on changed. */
  readonly onChange: () => void;
  readonly now: () => number;
  readonly log: {
    info: (obj: object, msg: string) => void;
    warn: (obj: object, msg: string) => void;
    error: (obj: object, msg: string) => void;
  };
}

/** What a node knows of the cluster after its last heartbeat. */
export interface ClusterView {
  readonly node: string;
  readonly revision: number | null;
  readonly assignment: AssignmentState;
  /** Partitions this node works on now (its share, less what is still being handed over). */
  readonly active: ReadonlySet<number>;
  /** Live nodes, this one included: each site's limits are divided by this. */
  readonly liveNodes: number;
  readonly peers: ReadonlyMap<string, PeerSighting>;
}

/** The latest event of the assignment stream, and the revision to append after it. */
export const readAssignment = async (
  store: EventStore,
): Promise<{ state: AssignmentState; revision: ExpectedRevision }> => {
  for await (const e of store.readStream(ASSIGNMENTS_STREAM, {
    direction: 'backwards',
    maxCount: 1,
  }))
    return {
      state: evolveAssignment(null, e as unknown as PartitionsAssigned),
      revision: e.revision,
    };
  return { state: null, revision: 'no_stream' };
};

export const readHeartbeat = async (
  store: EventStore,
  node: string,
): Promise<{
  readonly revision: bigint;
  readonly recordedAt: Date;
  readonly data: NodeHeartbeat['data'];
} | null> => {
  for await (const e of store.readStream(nodeStream(node), { direction: 'backwards', maxCount: 1 }))
    return {
      revision: e.revision,
      recordedAt: e.recordedAt,
      data: e.data as NodeHeartbeat['data'],
    };
  return null;
};

/**
 * This node's membership of the cluster sharing the delivery work. Every heartbeat it
 * appends a heartbeat to `node-<name>`, watches its peers' (those in the assignment), and
 * when the live nodes differ from the assignment's it rebalances, at the revision it read.
 * It hands the delivery loop the partitions it may work on (see activePartitions: gained
 * ones wait for the previous owner to let go) and the number of live nodes.
 */
export const startClusterMembership = async (deps: ClusterMembershipDeps) => {
  const { store, node } = deps;
  const instance = randomUUID();
  let view: ClusterView = {
    node,
    revision: null,
    assignment: null,
    active: new Set(),
    liveNodes: 1,
    peers: new Map(),
  };
  let adopted: number | null = null;
  // When this node last got a heartbeat into the log. Silent for longer than the lease less
  // one heartbeat, it stops working: its peers take its share over only once they have seen
  // no heartbeat of it for a whole lease.
  let lastBeat = deps.now();
  const fenceMs = deps.leaseMs - deps.heartbeatMs;
  const fenced = (): boolean => deps.now() - lastBeat > fenceMs;
  // The revision of this process's last heartbeat: another one after it, not ours, means a
  // second process runs under this name.
  let ownBeat: bigint | null = null;
  let clashUntil = 0;
  // Until it has rejoined (a new table revision of its own, adopted by its peers), a node
  // carries nothing over: on start, after being cut off, after being dropped from the table.
  let rejoined = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();

  const beat = async (leaving: boolean): Promise<void> => {
    const at = deps.now();
    const result = await store.appendToStream(
      nodeStream(node),
      [
        {
          eventId: randomUUID(),
          type: 'NodeHeartbeat',
          data: NodeHeartbeatSchema.parse({ at, instance, adopted, leaving }),
        },
      ],
      { expectedRevision: 'any' },
    );
    ownBeat = result.nextExpectedRevision;
    lastBeat = at;
  };

  /** Shares the partitions among `live`, unless another node changed the table first. */
  const rebalance = async (
    read: { state: AssignmentState; revision: ExpectedRevision },
    live: readonly string[],
    rejoining: boolean,
  ) => {
    try {
      const result = await handleCommand(
        store,
        ASSIGNMENTS_STREAM,
        assignmentDecider,
        { type: 'Rebalance', at: deps.now(), live, ...(rejoining ? { rejoining: node } : {}) },
        { newEventId: () => randomUUID(), loaded: read, retries: 0 },
      );
      const [event] = result.events;
      if (!event) return read;
      deps.log.info(
        { node, nodes: event.data.nodes, joined: event.data.joined, left: event.data.left },
        'cluster partitions reassigned',
      );
      const revision = read.revision === 'no_stream' ? 0n : (read.revision as bigint) + 1n;
      return { state: result.state, revision };
    } catch (error) {
      // Another node got there first: the next heartbeat reads its table.
      if (isEventStoreError(error, 'WrongExpectedRevision')) return null;
      throw error;
    }
  };

  /** Another process heartbeating under this node's name since our last heartbeat? */
  const clashing = async (): Promise<boolean> => {
    const latest = await readHeartbeat(store, node);
    if (
      ownBeat !== null &&
      latest &&
      latest.revision !== ownBeat &&
      latest.data.instance !== instance
    ) {
      clashUntil = deps.now() + deps.leaseMs;
      deps.log.error(
        { node, other: latest.data.instance, instance },
        'another process heartbeats as this node: give each node its own hostname; this one delivers nothing meanwhile',
      );
    }
    return deps.now() < clashUntil;
  };

  const tick = async (): Promise<void> => {
    // A node that was cut off starts over.
    if (fenced()) rejoined = false;
    // First of all say it is alive: an earlier run's last heartbeat may say it left.
    if (ownBeat === null) await beat(false);
    const clash = await clashing();
    let read = await readAssignment(store);
    const peers = new Map<string, PeerSighting>();
    for (const peer of read.state?.nodes ?? []) {
      if (peer === node) continue;
      const latest = await readHeartbeat(store, peer);
      // The time it was seen at is taken after the read: never earlier than it was written.
      peers.set(peer, sightPeer(view.peers.get(peer), latest, deps.now()));
    }
    const now = deps.now();
    const livePeers = [...peers].filter(([, p]) => isAlive(p, now, deps.leaseMs));
    if (!read.state?.nodes.includes(node)) rejoined = false;
    const changed = clash
      ? read
      : await rebalance(read, [node, ...livePeers.map(([name]) => name)], !rejoined);
    // Lost the race: the table read is out of date; nothing new starts until the next one.
    const current = changed !== null;
    if (changed) read = changed;
    const revision = read.revision === 'no_stream' ? null : Number(read.revision);
    const mine = partitionsOf(read.state, node);
    const previous = rejoined ? view.active : new Set<number>();
    const active =
      revision === null || clash
        ? new Set<number>()
        : current
          ? activePartitions({
              previous,
              mine,
              revision,
              livePeers: livePeers.map(([, p]) => p),
            })
          : new Set(mine.filter((p) => previous.has(p)));
    if (current && !clash) rejoined = true;
    // Adopted once nothing is under way outside this node's share of the latest table.
    if (revision !== null && [...deps.busyPartitions()].every((p) => mine.includes(p)))
      adopted = revision;
    const moved = active.size !== view.active.size || [...active].some((p) => !view.active.has(p));
    view = {
      node,
      revision,
      assignment: read.state,
      active,
      liveNodes: 1 + livePeers.length,
      peers,
    };
    await beat(false);
    if (moved) deps.onChange();
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      ticking = tick()
        .catch((error) => deps.log.warn({ err: error, node }, 'cluster heartbeat failed'))
        .finally(schedule);
    }, deps.heartbeatMs);
    timer.unref();
  };

  await tick();
  schedule();

  const NOTHING: ReadonlySet<number> = new Set();

  return {
    view: (): ClusterView => (fenced() ? { ...view, active: NOTHING } : view),
    /**
     * Leaves cleanly, after the delivery loop has stopped: its partitions go to the live
     * peers at once (not after the lease) and its last heartbeat says it is leaving.
     */
    stop: async (): Promise<void> => {
      stopped = true;
      clearTimeout(timer);
      await ticking;
      const now = deps.now();
      const live = [...view.peers]
        .filter(([, p]) => isAlive(p, now, deps.leaseMs))
        .map(([name]) => name);
      view = { ...view, active: new Set() };
      if (live.length > 0)
        for (let attempt = 0; attempt < 3; attempt++) {
          const read = await readAssignment(store);
          const changed = await rebalance(read, live, false);
          if (changed) {
            adopted = changed.revision === 'no_stream' ? null : Number(changed.revision);
            break;
          }
        }
      await beat(true);
    },
  };
};

export type ClusterMembership = Awaited<ReturnType<typeof startClusterMembership>>;
