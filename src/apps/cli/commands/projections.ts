import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { findProjection, PROJECTIONS } from '../../../projections/registry.js';
import { checkpointKey } from '../../../projections/runner/projection.js';
import { readCheckpoint } from '../../../projections/runner/read-model-db.js';
import { rebuildProjection } from '../../../projections/runner/rebuild.js';
import { fail, openContext, toJson } from '../cli-context.js';

export const projectionsCommand = (program: Command): void => {
  const projections = program
    .command('projections')
    .description('read models folded from the event log');

  projections
    .command('status')
    .description('each projection and how far behind the log it is')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config);
      try {
        const head = await ctx.store.headPosition();
        const rows = PROJECTIONS.map((p) => {
          const position = readCheckpoint(ctx.readDb, checkpointKey(p));
          // A number, so `jq '.behind > 0'` means what it says; positions stay strings.
          return {
            name: p.name,
            version: p.version,
            position,
            head,
            behind: Number(head - position),
          };
        });
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({
          head: ['projection', 'version', 'checkpoint', 'log head', 'behind'],
        });
        for (const r of rows)
          table.push([r.name, r.version, String(r.position), String(r.head), String(r.behind)]);
        process.stdout.write(`${table.toString()}\n`);
      } finally {
        await ctx.close();
      }
    });

  projections
    .command('rebuild [name]')
    .description(
      `rebuild from position 0 and swap in (all, or one of: ${PROJECTIONS.map((p) => p.name).join(', ')})`,
    )
    .action(async (name?: string) => {
      const selected = name
        ? [
            findProjection(name) ??
              fail(`no projection ${name}; known: ${PROJECTIONS.map((p) => p.name).join(', ')}`),
          ]
        : PROJECTIONS;
      const ctx = await openContext(program.opts().config);
      try {
        for (const p of selected) {
          const tty = process.stderr.isTTY;
          const bar = tty
            ? new SingleBar({
                format: `${p.name.padEnd(16)} [{bar}] {percentage}% | {value}/{total} positions`,
                hideCursor: true,
                stream: process.stderr,
              })
            : undefined;
          let started = false;
          const position = await rebuildProjection(ctx.store, ctx.readDb, p, (at, head) => {
            if (!bar) return;
            if (!started) {
              bar.start(Number(head) || 1, 0);
              started = true;
            }
            bar.update(Number(at));
          });
          bar?.stop();
          process.stdout.write(`rebuilt ${p.name}@${p.version} up to position ${position}\n`);
        }
      } finally {
        await ctx.close();
      }
    });
};
