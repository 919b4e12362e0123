import { z } from 'zod';
import type { Decider } from '../command-handling/handle-command.js';
import { PARTITIONS } from './partition.js';

/**
 * The `cluster-assignments` stream: which node owns which partition. Every change is one
 * `PartitionsAssigned` with the whole table, appended at the revision the node read, so of
 * two nodes deciding at once only one wins and the other decides again from the winner's.
 */
export const ASSIGNMENTS_STREAM = 'cluster-assignments';

export const PartitionsAssignedSchema = z.object({
  at: z.number(),
  /** The nodes sharing the work, sorted. */
  nodes: z.array(z.string().min(1)).min(1),
  /** Owner of each partition, by index. */
  owners: z.array(z.string().min(1)).length(PARTITIONS),
  joined: z.array(z.string()),
  left: z.array(z.string()),
});

export type PartitionsAssigned = {
  readonly type: 'PartitionsAssigned';
  readonly data: z.infer<typeof PartitionsAssignedSchema>;
};

export interface Assignment {
  readonly nodes: readonly string[];
  readonly owners: readonly string[];
}

export type AssignmentState = Assignment | null;

/**
 * Share the partitions among the live nodes (the caller counts itself among them).
 * `rejoining`: a node coming back (started again, or cut off for a while) asks for a new
 * revision even when the nodes are the same, so its share is ordered after anything
 * written while it was away and it waits for its peers to adopt that revision.
 */
export interface Rebalance {
  readonly type: 'Rebalance';
  readonly at: number;
  readonly live: readonly string[];
  readonly rejoining?: string;
}

const sameNodes = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((n, i) => n === b[i]);

/**
 * An even share for every live node, moving as few partitions as possible: each node keeps
 * what it holds up to its quota (the nodes holding most get the larger quotas), and what is
 * left over (a dead node's, a surplus) goes to the nodes under quota, in name order.
 */
export const balance = (current: readonly string[] | null, live: readonly string[]): string[] => {
  const nodes = [...new Set(live)].sort();
  const held = new Map(nodes.map((n) => [n, 0]));
  for (const owner of current ?? [])
    if (held.has(owner)) held.set(owner, (held.get(owner) ?? 0) + 1);
  const base = Math.floor(PARTITIONS / nodes.length);
  const extra = PARTITIONS % nodes.length;
  const quota = new Map(
    [...nodes]
      .sort((a, b) => (held.get(b) ?? 0) - (held.get(a) ?? 0) || a.localeCompare(b))
      .map((n, i) => [n, base + (i < extra ? 1 : 0)]),
  );
  const kept = new Map(nodes.map((n) => [n, 0]));
  const owners: Array<string | null> = Array.from({ length: PARTITIONS }, (_, p) => {
    const owner = current?.[p];
    if (owner === undefined || !quota.has(owner)) return null;
    if ((kept.get(owner) ?? 0) >= (quota.get(owner) ?? 0)) return null;
    kept.set(owner, (kept.get(owner) ?? 0) + 1);
    return owner;
  });
  let next = 0;
  return owners.map((owner) => {
    if (owner !== null) return owner;
    while ((kept.get(nodes[next] as string) ?? 0) >= (quota.get(nodes[next] as string) ?? 0))
      next++;
    const node = nodes[next] as string;
    kept.set(node, (kept.get(node) ?? 0) + 1);
    return node;
  });
};

export const decideAssignment = (
  command: Rebalance,
  state: AssignmentState,
): PartitionsAssigned[] => {
  const live = [...new Set(command.live)].sort();
  if (live.length === 0) return [];
  if (state && sameNodes(state.nodes, live) && !command.rejoining) return [];
  const before = state?.nodes ?? [];
  return [
    {
      type: 'PartitionsAssigned',
      data: {
        at: command.at,
        nodes: live,
        owners: balance(state?.owners ?? null, live),
        joined: live.filter((n) => !before.includes(n) || n === command.rejoining),
        left: before.filter((n) => !live.includes(n)),
      },
    },
  ];
};

export const evolveAssignment = (
  _: AssignmentState,
  event: PartitionsAssigned,
): AssignmentState => ({
  nodes: event.data.nodes,
  owners: event.data.owners,
});

export const assignmentDecider: Decider<Rebalance, PartitionsAssigned, AssignmentState> = {
  decide: decideAssignment,
  evolve: evolveAssignment,
  initialState: null,
  schemas: { PartitionsAssigned: PartitionsAssignedSchema },
};

/** The partitions a node owns under an assignment. */
export const partitionsOf = (assignment: AssignmentState, node: string): number[] =>
  assignment ? assignment.owners.flatMap((owner, p) => (owner === node ? [p] : [])) : [];
