import { partitionsOf } from '../../domain/cluster/assignment.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { readAssignment, readHeartbeat } from './cluster-membership.js';

export interface NodeStatus {
  readonly node: string;
  readonly partitions: number;
  /** When its last heartbeat was written (the log's time); null: none yet. */
  readonly lastHeartbeat: string | null;
  readonly secondsSince: number | null;
  /** The assignment revision it has adopted. */
  readonly adopted: number | null;
  /** live: heartbeats within the lease; silent: none for longer (about to lose its share); left. */
  readonly state: 'live' | 'silent' | 'left';
}

/** The cluster as the log has it: the assignment and each of its nodes' last heartbeat. */
export const clusterStatus = async (
  store: EventStore,
  leaseMs: number,
  now: number,
): Promise<{ readonly revision: number | null; readonly nodes: readonly NodeStatus[] }> => {
  const { state, revision } = await readAssignment(store);
  const nodes: NodeStatus[] = [];
  for (const node of state?.nodes ?? []) {
    const beat = await readHeartbeat(store, node);
    const at = beat ? beat.recordedAt.getTime() : null;
    const since = at === null ? null : Math.max(0, Math.round((now - at) / 1000));
    nodes.push({
      node,
      partitions: partitionsOf(state, node).length,
      lastHeartbeat: at === null ? null : new Date(at).toISOString(),
      secondsSince: since,
      adopted: beat?.data.adopted ?? null,
      state: beat?.data.leaving ? 'left' : at !== null && now - at <= leaseMs ? 'live' : 'silent',
    });
  }
  return { revision: revision === 'no_stream' ? null : Number(revision), nodes };
};
