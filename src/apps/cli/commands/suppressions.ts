import { readFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { csvLine } from '../../../domain/accounting/acct-record.js';
import { parseDuration } from '../../../domain/duration/duration.js';
import {
  parseScope,
  SUPPRESSION_REASONS,
  type SuppressionReason,
  type SuppressionScope,
} from '../../../domain/suppression/suppression.js';
import { catchUpProjection } from '../../../projections/runner/run-projection.js';
import {
  listSuppressions,
  suppressionsProjection,
} from '../../../projections/suppressions/suppressions.js';
import {
  addSuppressions,
  type NewSuppression,
  removeSuppressions,
} from '../../suppressions/record-suppressions.js';
import { type CliContext, fail, openContext, openOutput, toJson } from '../cli-context.js';

const ADDRESS = /^[^\s@,;<>]+@[^\s@,;<>]+\.[^\s@,;<>]+$/;

const scopeOption = (text: string): SuppressionScope =>
  parseScope(text) ??
  fail(`--scope ${text}: expected global, credential:<name> or domain:<sending domain>`);

const reasonOption = (text: string): SuppressionReason =>
  (SUPPRESSION_REASONS as readonly string[]).includes(text)
    ? (text as SuppressionReason)
    : fail(`--reason ${text}: expected one of ${SUPPRESSION_REASONS.join(', ')}`);

const expiryOption = (text: string | undefined, now: number): number | null => {
  if (text === undefined) return null;
  const ms = parseDuration(text);
  return ms === undefined
    ? fail(`--expires ${text}: expected a duration such as 30d or 12h`)
    : now + ms;
};

const checkAddresses = (addresses: readonly string[]): void => {
  const bad = addresses.filter((a) => !ADDRESS.test(a.trim()));
  if (bad.length > 0) fail(`not an email address: ${bad.join(', ')}`);
};

/**
 * Reads `address[,reason[,expires]]` lines (a header line naming `address` is skipped;
 * `expires` is an ISO date). Every bad line is reported with its number, and then nothing
 * is imported: half an import is harder to reason about than none.
 */
const readCsv = (
  file: string,
  defaults: { reason: SuppressionReason; expiresAt: number | null; note: string },
): NewSuppression[] => {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const entries: NewSuppression[] = [];
  const errors: string[] = [];
  const cells = (line: string) => line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  // A header line names the columns (what `suppressions export` writes, with its scope and
  // dates, reads back); without one they are address, reason, expires.
  const header = /(^|,)\s*"?address"?\s*(,|$)/i.test(lines[0] ?? '')
    ? cells(lines[0] as string).map((c) => c.toLowerCase())
    : null;
  const column = (names: readonly string[], fallback: number) => {
    if (!header) return fallback;
    const at = header.findIndex((h) => names.includes(h));
    return at < 0 ? -1 : at;
  };
  const at = {
    address: column(['address'], 0),
    reason: column(['reason'], 1),
    expires: column(['expires', 'expires_at'], 2),
  };
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || (i === 0 && header)) return;
    const row = cells(line);
    const [address = '', reason, expires] = [at.address, at.reason, at.expires].map((c) =>
      c < 0 ? undefined : row[c],
    );
    if (!ADDRESS.test(address)) errors.push(`${file}:${i + 1}: not an email address: ${address}`);
    else if (reason && !(SUPPRESSION_REASONS as readonly string[]).includes(reason))
      errors.push(
        `${file}:${i + 1}: reason ${reason}: expected one of ${SUPPRESSION_REASONS.join(', ')}`,
      );
    else if (expires && Number.isNaN(Date.parse(expires)))
      errors.push(`${file}:${i + 1}: expires ${expires}: expected an ISO date`);
    else
      entries.push({
        address,
        reason: (reason as SuppressionReason | undefined) || defaults.reason,
        expiresAt: expires ? Date.parse(expires) : defaults.expiresAt,
        note: defaults.note,
      });
  });
  if (errors.length > 0)
    fail(
      `nothing imported; ${errors.length} bad line(s):\n${errors.slice(0, 20).join('\n')}${errors.length > 20 ? '\n…' : ''}`,
    );
  return entries;
};

/**
 * Folds what was just appended into the read model the relay checks at acceptance, so the
 * change holds from the next message on (the relay would pick it up on its own, later).
 */
const inForceNow = (ctx: CliContext) =>
  catchUpProjection(ctx.store, ctx.readDb, suppressionsProjection);

export const suppressionsCommand = (program: Command): void => {
  const suppressions = program
    .command('suppressions')
    .description(
      'suppression lists (global, credential:<name>, domain:<sending domain>): who gets no mail',
    );

  suppressions
    .command('add <addresses...>')
    .description('suppress addresses on one list')
    .requiredOption('--scope <scope>', 'global, credential:<name> or domain:<sending domain>')
    .option('--reason <reason>', SUPPRESSION_REASONS.join(' | '), 'manual')
    .option('--expires <duration>', 'lift it after this long (30d, 12h); default: never')
    .option('--note <text>', 'why, for whoever reads the list later')
    .option('--json', 'machine-readable output')
    .action(
      async (
        addresses: string[],
        opts: { scope: string; reason: string; expires?: string; note?: string; json?: boolean },
      ) => {
        const scope = scopeOption(opts.scope);
        const reason = reasonOption(opts.reason);
        checkAddresses(addresses);
        const now = Date.now();
        const expiresAt = expiryOption(opts.expires, now);
        const ctx = await openContext(program.opts().config);
        try {
          await addSuppressions(
            ctx.store,
            scope,
            addresses.map((address) => ({ address, reason, expiresAt, note: opts.note ?? null })),
            now,
          );
          await inForceNow(ctx);
        } finally {
          await ctx.close();
        }
        process.stdout.write(
          opts.json
            ? `${toJson({ scope, added: addresses.length })}\n`
            : `${addresses.length} suppressed on ${scope}\n`,
        );
      },
    );

  suppressions
    .command('remove <addresses...>')
    .description('lift suppressions from one list (a later bounce or complaint adds them back)')
    .requiredOption('--scope <scope>', 'global, credential:<name> or domain:<sending domain>')
    .option('--note <text>', 'why')
    .action(async (addresses: string[], opts: { scope: string; note?: string }) => {
      const scope = scopeOption(opts.scope);
      checkAddresses(addresses);
      const ctx = await openContext(program.opts().config);
      try {
        await removeSuppressions(ctx.store, scope, addresses, Date.now(), opts.note ?? null);
        await inForceNow(ctx);
      } finally {
        await ctx.close();
      }
      process.stdout.write(`${addresses.length} lifted from ${scope}\n`);
    });

  suppressions
    .command('list')
    .description('the suppressions in force, as a table (or --json)')
    .option('--scope <scope>', 'only this list')
    .option('--limit <n>', 'at most this many rows', '100')
    .option('--json', 'machine-readable output (every row)')
    .action(async (opts: { scope?: string; limit: string; json?: boolean }) => {
      if (!/^[1-9]\d*$/.test(opts.limit)) fail('--limit: expected a positive whole number');
      const scope = opts.scope ? scopeOption(opts.scope) : undefined;
      const ctx = await openContext(program.opts().config, [suppressionsProjection]);
      try {
        const rows = [
          ...listSuppressions(ctx.readDb, { ...(scope ? { scope } : {}), now: Date.now() }),
        ];
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({
          head: ['list', 'address', 'reason', 'since', 'until', 'source'],
        });
        for (const r of rows.slice(0, Number(opts.limit)))
          table.push([
            r.scope,
            r.address,
            r.reason,
            new Date(r.addedAt).toISOString(),
            r.expiresAt ? new Date(r.expiresAt).toISOString() : 'never',
            r.source ?? '',
          ]);
        process.stdout.write(
          rows.length === 0
            ? 'no suppressions\n'
            : `${table.toString()}\n${rows.length > Number(opts.limit) ? `(${rows.length} in all; --json for every row)\n` : ''}`,
        );
      } finally {
        await ctx.close();
      }
    });

  suppressions
    .command('import <file>')
    .description(
      'suppress every address of a CSV file on one list: address[,reason[,expires]], or columns named in a header line (what export writes)',
    )
    .requiredOption('--scope <scope>', 'global, credential:<name> or domain:<sending domain>')
    .option(
      '--reason <reason>',
      `for lines that give none: ${SUPPRESSION_REASONS.join(' | ')}`,
      'manual',
    )
    .option('--expires <duration>', 'for lines that give none: lift after this long')
    .action(async (file: string, opts: { scope: string; reason: string; expires?: string }) => {
      const scope = scopeOption(opts.scope);
      const now = Date.now();
      const entries = readCsv(file, {
        reason: reasonOption(opts.reason),
        expiresAt: expiryOption(opts.expires, now),
        note: `import ${file}`,
      });
      const ctx = await openContext(program.opts().config);
      const bar = process.stderr.isTTY
        ? new SingleBar({
            format: 'importing [{bar}] {value}/{total} addresses',
            stream: process.stderr,
          })
        : null;
      bar?.start(entries.length, 0);
      try {
        await addSuppressions(ctx.store, scope, entries, now, (done) => bar?.update(done));
        await inForceNow(ctx);
      } finally {
        bar?.stop();
        await ctx.close();
      }
      process.stdout.write(`${entries.length} suppressed on ${scope} from ${file}\n`);
    });

  suppressions
    .command('export')
    .description(
      'the suppressions in force as CSV (scope,address,reason,added_at,expires_at,source)',
    )
    .option('--scope <scope>', 'only this list')
    .option('--output <file>', 'write here instead of stdout')
    .action(async (opts: { scope?: string; output?: string }) => {
      const scope = opts.scope ? scopeOption(opts.scope) : undefined;
      const ctx = await openContext(program.opts().config, [suppressionsProjection]);
      const out = openOutput(opts.output);
      try {
        out.write(csvLine(['scope', 'address', 'reason', 'added_at', 'expires_at', 'source']));
        for (const r of listSuppressions(ctx.readDb, {
          ...(scope ? { scope } : {}),
          now: Date.now(),
        }))
          out.write(
            csvLine([
              r.scope,
              r.address,
              r.reason,
              new Date(r.addedAt).toISOString(),
              r.expiresAt ? new Date(r.expiresAt).toISOString() : '',
              r.source ?? '',
            ]),
          );
      } finally {
        if (out !== process.stdout)
          await new Promise<void>((done) => (out as NodeJS.WritableStream).end(() => done()));
        await ctx.close();
      }
    });
};
