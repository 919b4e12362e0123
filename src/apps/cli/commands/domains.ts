import Table from 'cli-table3';
import type { Command } from 'commander';
import { createFileKeyStore } from '../../../adapters/dkim-keys/file-key-store.js';
import { createResolver } from '../../../adapters/dns/resolver.js';
import { SendingDomainError } from '../../../domain/sending-domain/decider.js';
import { type DnsRecord, expectedRecords } from '../../../domain/sending-domain/dns-records.js';
import { DomainNameError } from '../../../domain/sending-domain/domain-name.js';
import { credentialsProjection } from '../../../projections/credentials/credentials.js';
import {
  listSendingDomains,
  sendingDomainsProjection,
} from '../../../projections/sending-domains/sending-domains.js';
import type { Config } from '../../config/schema.js';
import {
  activatePendingKeys,
  addSendingDomain,
  type DomainReport,
  type DomainsDeps,
  DomainsError,
  loadSendingDomain,
  pruneRetiredKeys,
  rotateDomainKeys,
  verifySendingDomain,
} from '../../domains/sending-domains.js';
import { dataPaths } from '../../relay/data-paths.js';
import { type CliContext, fail, openContext, toJson } from '../cli-context.js';

const recordSettings = (config: Config): DomainsDeps['settings'] => ({
  egressAddresses: [
    ...new Set([
      ...(config.delivery.sourceAddress ? [config.delivery.sourceAddress] : []),
      ...config.domains.egressAddresses,
    ]),
  ],
  bounceHost: config.hostname,
  returnPathPrefix: config.domains.returnPathPrefix,
});

const depsOf = (ctx: CliContext): DomainsDeps => ({
  store: ctx.store,
  readDb: ctx.readDb,
  keyStore: createFileKeyStore(dataPaths(ctx.config).keys),
  settings: recordSettings(ctx.config),
  now: Date.now,
});

/** Runs a domains command; domain-level refusals end it with their message, exit code 1. */
const withDomains = async (
  program: Command,
  run: (deps: DomainsDeps, ctx: CliContext) => Promise<void>,
): Promise<void> => {
  const ctx = await openContext(program.opts().config, [
    credentialsProjection,
    sendingDomainsProjection,
  ]);
  try {
    await run(depsOf(ctx), ctx);
  } catch (error) {
    if (
      error instanceof DomainNameError ||
      error instanceof SendingDomainError ||
      error instanceof DomainsError
    )
      fail(error.message);
    throw error;
  } finally {
    await ctx.close();
  }
};

/** A zone-file line, TXT values split into 255-octet strings as DNS requires. */
export const zoneLine = (r: DnsRecord): string => {
  if (r.type === 'MX') return `${r.name}. IN MX ${r.value}.`;
  const parts = r.value.match(/.{1,255}/g) ?? [''];
  return `${r.name}. IN TXT ${parts.map((p) => `"${p}"`).join(' ')}`;
};

const printRecords = (title: string, records: readonly DnsRecord[]): void => {
  const table = new Table({
    head: ['record', 'name', 'type', 'value'],
    colWidths: [17, 38, 6, 70],
    wordWrap: true,
    wrapOnWordBoundary: false,
  });
  for (const r of records)
    table.push([r.kind + (r.generation ? ` (gen ${r.generation})` : ''), r.name, r.type, r.value]);
  process.stdout.write(
    `${title}\n${table.toString()}\nAs zone-file lines:\n${records.map(zoneLine).join('\n')}\n`,
  );
};

const keysSummary = (report: DomainReport): string =>
  report.domain.generations
    .map(
      (g) =>
        `generation ${g.generation} ${g.status}: ${g.keys.map((k) => `${k.selector} (${k.algorithm})`).join(', ')}`,
    )
    .join('\n');

export const domainsCommand = (program: Command): void => {
  const domains = program
    .command('domains')
    .description('sending domains: DKIM keys, DNS records, rotation');

  domains
    .command('add <domain>')
    .description('onboard a sending domain: make its DKIM keys and print the DNS records')
    .option('--credential <name>', 'the credential that may send for it (name, username or id)')
    .option('--operator', "the operator's own signing domain (no credential)")
    .option('--json', 'machine-readable output')
    .action(
      async (domain: string, opts: { credential?: string; operator?: boolean; json?: boolean }) => {
        if (!opts.credential && !opts.operator)
          fail('say who sends for it: --credential <name>, or --operator for your own domain');
        await withDomains(program, async (deps) => {
          const report = await addSendingDomain(deps, {
            domain,
            credential: opts.credential ?? null,
          });
          if (opts.json) return void process.stdout.write(`${toJson(report)}\n`);
          process.stdout.write(`Added ${report.domain.domain}. ${keysSummary(report)}\n\n`);
          printRecords('Publish these records:', report.records);
          process.stdout.write(
            `\nThen check them: mailtrail domains verify ${report.domain.domain}\n`,
          );
        });
      },
    );

  domains
    .command('list')
    .description('sending domains and the selectors that sign for them')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await withDomains(program, async (_deps, ctx) => {
        const rows = listSendingDomains(ctx.readDb);
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({
          head: ['domain', 'credential', 'signing with', 'waiting for DNS', 'added'],
        });
        for (const r of rows)
          table.push([
            r.domain,
            r.credentialName ?? '(operator)',
            r.activeSelectors ?? '',
            r.pendingSelectors ?? '',
            new Date(r.addedAt).toISOString(),
          ]);
        process.stdout.write(`${table.toString()}\n`);
      });
    });

  domains
    .command('records <domain>')
    .description('print the DNS records to publish for a sending domain')
    .option('--json', 'machine-readable output')
    .action(async (domain: string, opts: { json?: boolean }) => {
      await withDomains(program, async (deps) => {
        const state = await loadSendingDomain(deps, domain);
        if (state.status !== 'added') fail(`${domain} is not a sending domain`);
        const records = expectedRecords(state, deps.settings);
        if (opts.json) return void process.stdout.write(`${toJson(records)}\n`);
        printRecords(`Records for ${domain}:`, records);
      });
    });

  domains
    .command('verify <domain>')
    .description(
      'look each record up through dns.servers: ok, missing or mismatch (exit 3 if any is not ok); switch to published new keys',
    )
    .option('--json', 'machine-readable output')
    .action(async (domain: string, opts: { json?: boolean }) => {
      await withDomains(program, async (deps, ctx) => {
        const resolver = createResolver(ctx.config.dns.servers, ctx.config.dns.timeout);
        const report = await verifySendingDomain(deps, resolver, { domain });
        // Exit 3 with --json too: a script checks the code before it reads the output.
        if (report.checks.some((c) => c.status !== 'ok')) process.exitCode = 3;
        if (opts.json) return void process.stdout.write(`${toJson(report)}\n`);
        const table = new Table({
          head: ['record', 'name', 'status', 'expected', 'found'],
          colWidths: [17, 34, 10, 50, 50],
          wordWrap: true,
          wrapOnWordBoundary: false,
        });
        for (const c of report.checks)
          table.push([
            c.record.kind + (c.record.generation ? ` (gen ${c.record.generation})` : ''),
            c.record.name,
            c.status,
            c.record.value,
            [...c.found, ...(c.note ? [`(${c.note})`] : [])].join('\n') || '-',
          ]);
        process.stdout.write(`${table.toString()}\n`);
        if (report.activated !== null)
          process.stdout.write(
            `Key generation ${report.activated} is published: signing with it from now on.\n`,
          );
      });
    });

  domains
    .command('rotate <domain>')
    .description('make the next key pair; signing moves to it once verify sees it published')
    .option('--now', 'sign with the new keys at once, without waiting for DNS')
    .option('--json', 'machine-readable output')
    .action(async (domain: string, opts: { now?: boolean; json?: boolean }) => {
      await withDomains(program, async (deps) => {
        const report = await rotateDomainKeys(deps, { domain, now: Boolean(opts.now) });
        if (opts.json) return void process.stdout.write(`${toJson(report)}\n`);
        const newest = Math.max(...report.domain.generations.map((g) => g.generation));
        process.stdout.write(`${keysSummary(report)}\n\n`);
        printRecords(
          'Publish the new DKIM records (keep the old ones until `domains prune` says they can go):',
          report.records.filter((r) => r.generation === newest),
        );
        if (!opts.now)
          process.stdout.write(
            `\nSigning switches when \`mailtrail domains verify ${domain}\` finds them.\n`,
          );
      });
    });

  domains
    .command('activate <domain>')
    .description('switch signing to the keys waiting for DNS now, without checking DNS')
    .action(async (domain: string) => {
      await withDomains(program, async (deps) => {
        const report = await activatePendingKeys(deps, { domain });
        process.stdout.write(`${keysSummary(report)}\n`);
      });
    });

  domains
    .command('prune <domain>')
    .description(
      'remove keys retired longer than dkim.retiredKeyGrace ago; says which DNS records can go',
    )
    .option('--json', 'machine-readable output')
    .action(async (domain: string, opts: { json?: boolean }) => {
      await withDomains(program, async (deps, ctx) => {
        const report = await pruneRetiredKeys(deps, {
          domain,
          graceMs: ctx.config.dkim.retiredKeyGrace,
        });
        if (opts.json) return void process.stdout.write(`${toJson(report)}\n`);
        if (report.removed.length === 0)
          return void process.stdout.write('No retired keys past their grace period.\n');
        printRecords('Removed these keys; their records can be deleted from DNS:', report.removed);
      });
    });
};
