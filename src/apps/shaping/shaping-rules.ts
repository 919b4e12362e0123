import { fileURLToPath } from 'node:url';
import {
  formatRuleFileError,
  type RuleFileError,
} from '../../adapters/rule-files/rule-file-error.js';
import { loadShapingFile } from '../../adapters/shaping-file/load-shaping-file.js';
import { EMPTY_RULES, mergeRules, type ShapingRules } from '../../domain/shaping/layers.js';
import type { BaseShaping } from '../../domain/shaping/shaping-values.js';
import type { Config } from '../config/schema.js';

export const DEFAULT_SHAPING_FILE = fileURLToPath(
  new URL('./default-shaping.yaml', import.meta.url),
);

export class ShapingRulesError extends Error {
  readonly code = 'ShapingInvalid';
  constructor(readonly errors: readonly RuleFileError[]) {
    super(`invalid shaping rules:\n${errors.map((e) => `  ${formatRuleFileError(e)}`).join('\n')}`);
  }
}

/**
 * The built-in file, then the operator's files in order (a later file wins per layer), and
 * every problem in them: each file's own, then what only the merged rules show.
 */
export const readShapingRules = (
  files: readonly string[],
): { readonly rules: ShapingRules; readonly errors: readonly RuleFileError[] } => {
  let rules = EMPTY_RULES;
  const errors: RuleFileError[] = [];
  for (const file of [DEFAULT_SHAPING_FILE, ...files]) {
    const loaded = loadShapingFile(file);
    if (loaded.ok) rules = mergeRules(rules, loaded.rules);
    else errors.push(...loaded.errors);
  }
  errors.push(...unknownWarmupProviders(rules));
  return { rules, errors };
};

/** The rules the relay runs with; throws with every error if any file is wrong. */
export const loadShapingRules = (files: readonly string[]): ShapingRules => {
  const { rules, errors } = readShapingRules(files);
  if (errors.length > 0) throw new ShapingRulesError(errors);
  return rules;
};

/** A warm-up schedule names a provider some file defines (or `default`). */
const unknownWarmupProviders = (rules: ShapingRules): RuleFileError[] => {
  const known = new Set(rules.providers.map((p) => p.name));
  return Object.values(rules.warmups).flatMap((plan) =>
    Object.keys(plan.daily)
      .filter((name) => name !== 'default' && !known.has(name))
      .map((name) => ({
        ...plan.origin,
        path: `sources.${plan.source}.warmup.daily.${name}`,
        message: `unknown provider "${name}" (expected default or one of ${[...known].join(', ')})`,
      })),
  );
};

/** What no shaping layer sets: the config's delivery and queue settings. */
export const baseShaping = (config: Config): BaseShaping => ({
  values: {
    maxConnections: config.delivery.maxConnectionsPerDomain,
    maxMessagesPerConnection: config.delivery.maxMessagesPerConnection,
    messageRate: null,
    connectionRate: null,
    retry: config.queue.retry,
    maxAge: config.queue.maxAge,
    tls: 'opportunistic',
  },
  keys: {
    maxConnections: 'delivery.maxConnectionsPerDomain',
    maxMessagesPerConnection: 'delivery.maxMessagesPerConnection',
    messageRate: '(no limit)',
    connectionRate: '(no limit)',
    retry: 'queue.retry',
    maxAge: 'queue.maxAge',
    tls: '(opportunistic)',
  },
});
