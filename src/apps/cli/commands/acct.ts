import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { csvHeader, csvRecord } from '../../../domain/accounting/acct-record.js';
import { accountingProjection, acctRecords } from '../../../projections/accounting/accounting.js';
import { fail, openContext, openOutput } from '../cli-context.js';
import { parseSince } from '../parse-since.js';

const write = (out: Writable, chunk: string): Promise<void> =>
  new Promise((resolve) => (out.write(chunk) ? resolve() : out.once('drain', resolve)));

export const acctCommand = (program: Command): void => {
  const acct = program.command('acct').description('the accounting log (PowerMTA-compatible)');
  acct
    .command('export')
    .description('write accounting records: d (delivered), b (bounced), t (deferred)')
    .option('--since <time>', 'logged since: an ISO time, or a duration ago (1h, 2d)')
    .option('--format <format>', 'csv (with a header line) or jsonl', 'csv')
    .option('--types <types>', 'record types to include, comma-separated', 'd,b,t')
    .option('--output <file>', 'write to a file instead of standard output')
    .action(async (opts: { since?: string; format: string; types: string; output?: string }) => {
      if (!['csv', 'jsonl'].includes(opts.format)) fail('--format: expected csv or jsonl');
      const types = opts.types.split(',').map((t) => t.trim());
      if (types.some((t) => !['d', 'b', 't'].includes(t))) fail('--types: expected d, b and/or t');
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      const ctx = await openContext(program.opts().config, [accountingProjection]);
      const out: Writable = openOutput(opts.output);
      try {
        if (opts.format === 'csv') await write(out, csvHeader());
        for (const record of acctRecords(ctx.readDb, {
          ...(since !== undefined ? { since } : {}),
          types,
        }))
          await write(
            out,
            opts.format === 'csv' ? csvRecord(record) : `${JSON.stringify(record)}\n`,
          );
      } finally {
        if (opts.output) await new Promise((resolve) => out.end(resolve));
        await ctx.close();
      }
    });
};
