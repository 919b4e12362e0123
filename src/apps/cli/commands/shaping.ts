import Table from 'cli-table3';
import type { Command } from 'commander';
import { createResolver, orNone } from '../../../adapters/dns/resolver.js';
import { loadShapingFile } from '../../../adapters/shaping-file/load-shaping-file.js';
import { loadState } from '../../../domain/command-handling/handle-command.js';
import { formatDuration } from '../../../domain/duration/duration.js';
import {
  effectiveShaping,
  responseRulesFor,
  type Sourced,
} from '../../../domain/shaping/effective.js';
import type { Rate } from '../../../domain/shaping/rate.js';
import { replyText } from '../../../domain/shaping/response-rules.js';
import { SHAPING_KEYS } from '../../../domain/shaping/shaping-values.js';
import { siteOf } from '../../../domain/shaping/site.js';
import { inForce, siteDecider, siteStream } from '../../../domain/site-state/site-state.js';
import type { WindowRow } from '../../relay/throttle-windows.js';
import {
  baseShaping,
  formatShapingError,
  loadShapingRules,
  ShapingRulesError,
} from '../../shaping/shaping-rules.js';
import { cliConfig, fail, openContext, toJson } from '../cli-context.js';

/** A value as an operator writes it in a shaping file. */
const show = (key: string, value: unknown): string => {
  if (value === null) return 'no limit';
  if (key === 'retry') return (value as number[]).map(formatDuration).join(', ');
  if (key === 'maxAge') return formatDuration(value as number);
  if (typeof value === 'object' && value && 'text' in value) return (value as Rate).text;
  return String(value);
};

export const shapingCommand = (program: Command): void => {
  const shaping = program
    .command('shaping')
    .description('per-ISP traffic shaping: check rule files, explain what applies');

  shaping
    .command('validate <files...>')
    .description('check shaping files: each error with its file, line and key path')
    .option('--json', 'machine-readable output')
    .action((files: string[], opts: { json?: boolean }) => {
      const errors = files.flatMap((f) => {
        const loaded = loadShapingFile(f);
        return loaded.ok ? [] : loaded.errors;
      });
      if (opts.json) process.stdout.write(`${toJson({ ok: errors.length === 0, errors })}\n`);
      else if (errors.length === 0) process.stdout.write(`ok: ${files.join(', ')}\n`);
      else process.stderr.write(`${errors.map(formatShapingError).join('\n')}\n`);
      if (errors.length > 0) process.exitCode = 1;
    });

  shaping
    .command('status')
    .description(
      'live counts per site, source and credential over the last minute and hour (from the running relay)',
    )
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig(program.opts().config);
      const { host, port } = config.http.listen;
      const at = `http://${host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}/shaping/status`;
      let body: { windows: WindowRow[] };
      try {
        const response = await fetch(at);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        body = (await response.json()) as { windows: WindowRow[] };
      } catch (error) {
        return fail(
          `the relay did not answer at ${at} (${(error as Error).message}); is it running?`,
        );
      }
      if (opts.json) return void process.stdout.write(`${toJson(body.windows)}\n`);
      const percent = (r: number) => `${(r * 100).toFixed(1)}%`;
      const table = new Table({
        head: [
          '',
          'name',
          '1 min: attempts',
          'delivered',
          'deferred',
          'bounced',
          'deferral rate',
          '1 h: attempts',
          'deferral rate',
        ],
      });
      for (const w of body.windows)
        table.push([
          w.dimension,
          w.key,
          w.lastMinute.attempts,
          w.lastMinute.delivered,
          w.lastMinute.deferred,
          w.lastMinute.bounced,
          percent(w.lastMinute.deferralRate),
          w.lastHour.attempts,
          percent(w.lastHour.deferralRate),
        ]);
      process.stdout.write(
        `${body.windows.length === 0 ? 'no attempts in the last hour\n' : `${table.toString()}\n`}`,
      );
    });

  shaping
    .command('explain <domain>')
    .description(
      'the shaping values for a recipient domain, and the layer and line each comes from',
    )
    .option('--source <name>', 'as sent from this egress source')
    .option('--mx <hosts>', 'use these MX hosts (comma-separated) instead of looking them up')
    .option('--json', 'machine-readable output')
    .action(async (domain: string, opts: { source?: string; mx?: string; json?: boolean }) => {
      const config = cliConfig(program.opts().config);
      let rules: ReturnType<typeof loadShapingRules>;
      try {
        rules = loadShapingRules(config.shaping.files);
      } catch (error) {
        if (error instanceof ShapingRulesError) fail(error.message);
        throw error;
      }
      const name = domain.toLowerCase();
      const mx = opts.mx
        ? opts.mx
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean)
        : (await orNone(createResolver(config.dns.servers, config.dns.timeout).resolveMx(name)))
            .sort((a, b) => a.priority - b.priority)
            .map((r) => r.exchange);
      const site = siteOf(name, mx, rules!);
      const values = effectiveShaping(rules!, baseShaping(config), name, site, opts.source ?? null);
      // Reactions are per site and egress source (site-shaping.ts names them so).
      const reacting = await siteStateNow(
        program.opts().config,
        opts.source ? `${site.key} from ${opts.source}` : site.key,
      );
      const responses = responseRulesFor(rules!, name, site, opts.source ?? null).map((r) => ({
        match: r.match.source,
        threshold: r.threshold,
        within: formatDuration(r.withinMs),
        action: r.action,
        for: formatDuration(r.forMs),
        origin: r.origin,
      }));
      if (opts.json)
        return void process.stdout.write(
          `${toJson({ domain: name, mx, site: site.key, provider: site.provider?.name ?? null, values, responses, ...reacting })}\n`,
        );
      const rollup = rules!.domains[name]?.rollup === false ? ' (rollup off for this domain)' : '';
      process.stdout.write(
        `${name}: MX ${mx.join(', ') || '(none found)'}\nsite ${site.key}${site.provider ? `, provider ${site.provider.name} (${site.provider.origin.file}:${site.provider.origin.line})` : ''}${rollup}\n`,
      );
      const table = new Table({ head: ['setting', 'value', 'layer', 'from'] });
      for (const key of SHAPING_KEYS) {
        const v = values[key] as Sourced<unknown>;
        table.push([
          key,
          show(key, v.value),
          v.layer === 'default' ? v.layer : `${v.layer} ${v.layerName}`,
          v.origin ? `${v.origin.file}:${v.origin.line}` : 'the config',
        ]);
      }
      process.stdout.write(`${table.toString()}\n`);
      for (const r of responses)
        process.stdout.write(
          `reply rule /${r.match}/: ${r.threshold} within ${r.within} → ${r.action} for ${r.for} (${r.origin.file}:${r.origin.line})\n`,
        );
      for (const [what, state] of [
        ['suspended', reacting.suspension],
        ['backing off', reacting.backoff],
      ] as const) {
        if (!state) continue;
        const limits = 'limits' in state ? ` (limits ${JSON.stringify(state.limits)})` : '';
        process.stdout.write(
          `${what} until ${new Date(state.until).toISOString()}${limits}: ${state.matches} replies matched /${state.rule.match}/ (${state.rule.file}:${state.rule.line}) within its period, the last "${replyText(state.reply)}"\n`,
        );
      }
      if (!reacting.suspension && !reacting.backoff)
        process.stdout.write('no backoff or suspension in force\n');
    });
};

/** The site's backoff and suspension in force now, folded from its `site-<key>` stream. */
const siteStateNow = async (configFlag: string | undefined, site: string) => {
  const ctx = await openContext(configFlag);
  try {
    const { state } = await loadState(ctx.store, siteStream(site), siteDecider);
    return inForce(state, Date.now());
  } finally {
    await ctx.close();
  }
};
