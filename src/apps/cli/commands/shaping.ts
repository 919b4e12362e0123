import Table from 'cli-table3';
import type { Command } from 'commander';
import { createResolver, orNone } from '../../../adapters/dns/resolver.js';
import { formatRuleFileError } from '../../../adapters/rule-files/rule-file-error.js';
import { loadState } from '../../../domain/command-handling/handle-command.js';
import { formatDuration } from '../../../domain/duration/duration.js';
import {
  effectiveShaping,
  responseRulesFor,
  type Sourced,
} from '../../../domain/shaping/effective.js';
import type { ShapingRules } from '../../../domain/shaping/layers.js';
import type { Rate } from '../../../domain/shaping/rate.js';
import { SHAPING_KEYS } from '../../../domain/shaping/shaping-values.js';
import { queueKey, type Site, siteOf } from '../../../domain/shaping/site.js';
import { inForce, siteDecider, siteStream } from '../../../domain/site-state/site-state.js';
import { formatSmtpReply } from '../../../domain/smtp-reply/smtp-reply.js';
import { utcDay, warmupStanding } from '../../../domain/warmup/warmup.js';
import {
  deliveredOn,
  egressVolumeProjection,
} from '../../../projections/egress-volume/egress-volume.js';
import type { WindowRow } from '../../relay/throttle-windows.js';
import {
  baseShaping,
  loadShapingRules,
  readShapingRules,
  ShapingRulesError,
} from '../../shaping/shaping-rules.js';
import { type CliContext, cliConfig, fail, openContext, toJson } from '../cli-context.js';

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
      // Checked as the relay would load them: after the built-in file, in this order.
      const { errors } = readShapingRules(files);
      if (opts.json) process.stdout.write(`${toJson({ ok: errors.length === 0, errors })}\n`);
      else if (errors.length === 0) process.stdout.write(`ok: ${files.join(', ')}\n`);
      else process.stderr.write(`${errors.map(formatRuleFileError).join('\n')}\n`);
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
        // A relay that takes the connection and never answers must not hang the command.
        const response = await fetch(at, { signal: AbortSignal.timeout(10_000) });
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
      const source = opts.source ?? null;
      const values = effectiveShaping(rules!, baseShaping(config), name, site, source);
      const ctx = await openContext(program.opts().config, [egressVolumeProjection]);
      let standing: Awaited<ReturnType<typeof whereSiteStands>>;
      try {
        standing = await whereSiteStands(ctx, rules!, site, source);
      } finally {
        await ctx.close();
      }
      const responses = responseRulesFor(rules!, name, site, source).map((r) => ({
        match: r.match.source,
        threshold: r.threshold,
        within: formatDuration(r.withinMs),
        action: r.action,
        for: formatDuration(r.forMs),
        origin: r.origin,
      }));
      if (opts.json)
        return void process.stdout.write(
          `${toJson({ domain: name, mx, site: site.key, provider: site.provider?.name ?? null, values, responses, ...standing })}\n`,
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
      const actions = [
        ['suspended', standing.suspension],
        ['backing off', standing.backoff],
        ['queue bounced', standing.bounce],
        ...standing.disabledSources.map((d) => [`source ${d.source} disabled`, d] as const),
      ] as const;
      for (const [what, state] of actions) {
        if (!state) continue;
        const limits = 'limits' in state ? ` (limits ${JSON.stringify(state.limits)})` : '';
        process.stdout.write(
          `${what} until ${new Date(state.until).toISOString()}${limits}: ${state.matches} replies matched /${state.rule.match}/ (${state.rule.file}:${state.rule.line}) within its period, the last "${formatSmtpReply(state.reply)}"\n`,
        );
      }
      if (actions.every(([, state]) => !state))
        process.stdout.write('no backoff, suspension, disabled source or queue bounce in force\n');
      if (standing.warmup.length > 0) {
        const warm = new Table({
          head: ['warm-up', 'day', 'cap today', 'sent today', 'left', 'schedule'],
        });
        for (const w of standing.warmup)
          warm.push([
            w.source,
            w.day < 1 ? `starts in ${1 - w.day} d` : `${w.day} of ${w.days}`,
            w.cap === null ? 'warm (no cap)' : w.cap,
            w.sentToday,
            w.left === null ? '—' : w.left,
            `${w.schedule ?? 'none for this site'} (${w.origin.file}:${w.origin.line})`,
          ]);
        process.stdout.write(`${warm.toString()}\n`);
      }
    });
};

/**
 * What is in force for the site now: the queue's backoff and suspension (as seen from
 * `source`), the site's queue bounce, the sources disabled there, and where each warming
 * source stands today (only `source`'s when one is given).
 */
const whereSiteStands = async (
  ctx: CliContext,
  rules: ShapingRules,
  site: Site,
  source: string | null,
) => {
  const now = Date.now();
  const stateOf = async (key: string) =>
    inForce((await loadState(ctx.store, siteStream(key), siteDecider)).state, now);
  const queue = await stateOf(queueKey(site.key, source));
  const whole = await stateOf(site.key);
  const sources = source ? [source] : Object.keys(ctx.config.egress.sources);
  const disabledSources = [];
  for (const name of sources) {
    const disabled = (await stateOf(queueKey(site.key, name))).disabled;
    if (disabled) disabledSources.push({ source: name, ...disabled });
  }
  const warmup = Object.values(rules.warmups)
    .filter((plan) => !source || plan.source === source)
    .map((plan) => {
      const standing = warmupStanding(plan, site.provider?.name, now);
      const sentToday = deliveredOn(ctx.readDb, plan.source, site.key, utcDay(now));
      return {
        source: plan.source,
        ...standing,
        sentToday,
        left: standing.cap === null ? null : Math.max(0, standing.cap - sentToday),
        origin: plan.origin,
      };
    });
  return {
    backoff: queue.backoff,
    suspension: queue.suspension,
    bounce: whole.bounce,
    disabledSources,
    warmup,
  };
};
