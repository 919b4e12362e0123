import { z } from 'zod';

/**
 * `node-<name>`: a node's heartbeats. Liveness is read from the stream moving on, not from
 * the time written in it, so clocks that disagree between machines do not matter.
 */
export const NODE_STREAM_PREFIX = 'node-';
export const nodeStream = (node: string): string => `${NODE_STREAM_PREFIX}${node}`;

export const NodeHeartbeatSchema = z.object({
  at: z.number(),
  /** This process's id: two processes heartbeating under one name is a misconfiguration. */
  instance: z.string().min(1),
  /**
   * The revision of `cluster-assignments` this node has adopted: it starts nothing outside
   * its partitions there and has no attempt under way outside them. Null: none yet.
   */
  adopted: z.number().int().nonnegative().nullable(),
  /** Said once by a node stopping cleanly: it is gone now, not after its lease. */
  leaving: z.boolean(),
});

export type NodeHeartbeat = {
  readonly type: 'NodeHeartbeat';
  readonly data: z.infer<typeof NodeHeartbeatSchema>;
};

/** What a node last saw of a peer: its heartbeat stream's revision and when that changed. */
export interface PeerSighting {
  readonly revision: bigint | null;
  /** This node's clock when the revision last changed (or the peer was first seen). */
  readonly changedAt: number;
  readonly adopted: number | null;
  readonly leaving: boolean;
}

/** The peer's latest heartbeat (null: it has none yet) folded into what was seen of it. */
export const sightPeer = (
  previous: PeerSighting | undefined,
  latest: { readonly revision: bigint; readonly data: NodeHeartbeat['data'] } | null,
  now: number,
): PeerSighting => {
  const revision = latest?.revision ?? null;
  const changed = previous === undefined || previous.revision !== revision;
  return {
    revision,
    changedAt: changed ? now : previous.changedAt,
    adopted: latest?.data.adopted ?? null,
    leaving: latest?.data.leaving ?? false,
  };
};

/** Alive: it said it was leaving, or its heartbeats stopped for longer than the lease. */
export const isAlive = (peer: PeerSighting, now: number, leaseMs: number): boolean =>
  !peer.leaving && now - peer.changedAt <= leaseMs;

/**
 * The partitions a node may work on now. Ones it kept from before stay; ones it lost go at
 * once; ones it gained wait until every live peer has adopted the assignment that moved
 * them (a peer still finishing an attempt there has not), so no two nodes ever work on a
 * partition at the same time while both are alive. A dead peer is not waited for: its
 * lease has run out.
 */
export const activePartitions = (input: {
  readonly previous: ReadonlySet<number>;
  readonly mine: readonly number[];
  readonly revision: number;
  readonly livePeers: readonly PeerSighting[];
}): Set<number> => {
  const settled = input.livePeers.every((p) => p.adopted !== null && p.adopted >= input.revision);
  return new Set(settled ? input.mine : input.mine.filter((p) => input.previous.has(p)));
};
