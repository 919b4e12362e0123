import { fileURLToPath } from 'node:url';
import {
  loadShapingFile,
  type ShapingFileError,
} from '../../adapters/shaping-file/load-shaping-file.js';
import { EMPTY_RULES, mergeRules, type ShapingRules } from '../../domain/shaping/layers.js';
import type { BaseShaping } from '../../domain/shaping/shaping-values.js';
import type { Config } from '../config/schema.js';

export const DEFAULT_SHAPING_FILE = fileURLToPath(
  new URL('./default-shaping.yaml', import.meta.url),
);

export class ShapingRulesError extends Error {
  readonly code = 'ShapingInvalid';
  constructor(readonly errors: readonly ShapingFileError[]) {
    super(`invalid shaping rules:\n${errors.map((e) => `  ${formatShapingError(e)}`).join('\n')}`);
  }
}

export const formatShapingError = (e: ShapingFileError): string =>
  `${e.file}:${e.line}: ${e.path ? `${e.path}: ` : ''}${e.message}`;

/** The built-in file, then the operator's files in order: a later file wins per layer. */
export const loadShapingRules = (files: readonly string[]): ShapingRules => {
  let rules = EMPTY_RULES;
  const errors: ShapingFileError[] = [];
  for (const file of [DEFAULT_SHAPING_FILE, ...files]) {
    const loaded = loadShapingFile(file);
    if (loaded.ok) rules = mergeRules(rules, loaded.rules);
    else errors.push(...loaded.errors);
  }
  if (errors.length > 0) throw new ShapingRulesError(errors);
  return rules;
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
