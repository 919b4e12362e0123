import Table from 'cli-table3';
import type { Command } from 'commander';
import { clusterStatus } from '../../cluster/cluster-status.js';
import { openContext, toJson } from '../cli-context.js';

export const clusterCommand = (program: Command): void => {
  const cluster = program
    .command('cluster')
    .description('the nodes sharing the delivery on this event log (cluster.enabled)');

  cluster
    .command('status')
    .description('each node: its partitions, its last heartbeat, and whether it is live')
    .option('--json', 'print {"revision","nodes":[{node,partitions,lastHeartbeat,…}]}')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config);
      try {
        const status = await clusterStatus(ctx.store, ctx.config.cluster.lease, Date.now());
        if (opts.json) return void process.stdout.write(`${toJson(status)}\n`);
        if (status.nodes.length === 0) {
          process.stdout.write(
            'no cluster on this log: no node has cluster.enabled, or none has started yet\n',
          );
          return;
        }
        const table = new Table({
          head: ['node', 'state', 'partitions', 'last heartbeat', 'ago', 'adopted'],
        });
        for (const n of status.nodes)
          table.push([
            n.node,
            n.state,
            n.partitions,
            n.lastHeartbeat ?? '-',
            n.secondsSince === null ? '-' : `${n.secondsSince}s`,
            n.adopted === status.revision ? 'current' : String(n.adopted ?? '-'),
          ]);
        process.stdout.write(`${table.toString()}\nassignment revision ${status.revision}\n`);
      } finally {
        await ctx.close();
      }
    });
};
