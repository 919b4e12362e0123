import Table from 'cli-table3';
import type { Command } from 'commander';
import { createResolver, orNone } from '../../../adapters/dns/resolver.js';
import { loadShapingFile } from '../../../adapters/shaping-file/load-shaping-file.js';
import { formatDuration } from '../../../domain/duration/duration.js';
import { effectiveShaping, type Sourced } from '../../../domain/shaping/effective.js';
import type { Rate } from '../../../domain/shaping/rate.js';
import { SHAPING_KEYS } from '../../../domain/shaping/shaping-values.js';
import { siteOf } from '../../../domain/shaping/site.js';
import {
  baseShaping,
  formatShapingError,
  loadShapingRules,
  ShapingRulesError,
} from '../../shaping/shaping-rules.js';
import { cliConfig, fail, toJson } from '../cli-context.js';

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
      if (opts.json)
        return void process.stdout.write(
          `${toJson({ domain: name, mx, site: site.key, provider: site.provider?.name ?? null, values })}\n`,
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
    });
};
