import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { partitionOf } from '../../domain/cluster/partition.js';

/**
 * The membership lives on the delivery thread; the webhook thread asks it which endpoints
 * are this node's. The delivery thread broadcasts its partitions on every heartbeat and
 * every change, over a BroadcastChannel named after the read-model file.
 */
export const clusterNewsChannel = (projectionsPath: string) =>
  new BroadcastChannel(`mailtrail-cluster:${resolve(projectionsPath)}`);

/**
 * Whether cluster-wide work keyed by `key` (a webhook endpoint's id, say) is this node's:
 * keys fall into the message partitions, so each has exactly one owner at a time.
 */
export const ownsKey = (partitions: ReadonlySet<number>, key: string): boolean =>
  partitions.has(partitionOf(key));
