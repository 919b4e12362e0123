/**
 * Messages fall into a fixed number of partitions by a hash of their id; nodes of a cluster
 * own partitions, not messages, so ownership changes are one small event, not one per
 * message. 64 is enough to spread work evenly over a handful of nodes and small enough to
 * list in every assignment.
 */
export const PARTITIONS = 64;

/** FNV-1a (32-bit) of the id, modulo the partition count: stable across nodes and versions. */
export const partitionOf = (messageId: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < messageId.length; i++) {
    hash ^= messageId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PARTITIONS;
};
