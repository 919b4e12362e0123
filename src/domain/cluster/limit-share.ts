import type { Rate } from '../shaping/rate.js';

interface SharedLimits {
  readonly maxConnections: number;
  readonly messageRate: Rate | null;
  readonly connectionRate: Rate | null;
}

const shareRate = (rate: Rate | null, nodes: number): Rate | null =>
  rate && { ...rate, count: rate.count / nodes, text: `${rate.text} ÷ ${nodes} nodes` };

/**
 * One node's part of a site's limits when `nodes` share the delivery: rates divided evenly
 * (together the nodes stay within the site's rate), connections divided and rounded up,
 * because every node may hold mail for every site and needs at least one connection to it.
 * A site allowing fewer connections than there are nodes therefore sees one per node.
 */
export const shareLimits = <T extends SharedLimits>(limits: T, nodes: number): T =>
  nodes <= 1
    ? limits
    : {
        ...limits,
        maxConnections: Math.ceil(limits.maxConnections / nodes),
        messageRate: shareRate(limits.messageRate, nodes),
        connectionRate: shareRate(limits.connectionRate, nodes),
      };
