import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { type Config, ConfigSchema } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'ConfigInvalid';
}

const describe = (issue: z.core.$ZodIssue): string => {
  const path = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return `${path}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `${path}: ${issue.message}`;
};

/** Validates a parsed YAML document; a bad value names its key path and the expected form. */
export const parseConfig = (document: unknown, source = 'config'): Config => {
  const result = ConfigSchema.safeParse(document ?? {});
  if (!result.success)
    throw new ConfigError(
      `invalid ${source}:\n${result.error.issues.map((i) => `  ${describe(i)}`).join('\n')}`,
    );
  return result.data;
};

export interface LoadedConfig {
  readonly config: Config;
  readonly path: string;
  readonly created: boolean;
}

/**
 * Reads the YAML config, writing the commented default first when the file is missing.
 * Relative paths in it (dataDir, TLS files) are relative to the config file's folder.
 */
export const loadConfig = (path: string, options: { create: boolean }): LoadedConfig => {
  const absolute = resolve(path);
  let created = false;
  if (!existsSync(absolute)) {
    if (!options.create) throw new ConfigError(`config file ${absolute} does not exist`);
    writeFileSync(absolute, DEFAULT_CONFIG_YAML, { mode: 0o644 });
    created = true;
  }
  let document: unknown;
  try {
    document = parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${absolute} is not valid YAML: ${(error as Error).message}`);
  }
  const config = parseConfig(document, absolute);
  const base = dirname(absolute);
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return {
    path: absolute,
    created,
    config: {
      ...config,
      dataDir: rel(config.dataDir),
      store:
        config.store.kind === 'sqlite' && config.store.path
          ? { ...config.store, path: rel(config.store.path) }
          : config.store,
      smtp: {
        ...config.smtp,
        tls: {
          ...(config.smtp.tls.key ? { key: rel(config.smtp.tls.key) } : {}),
          ...(config.smtp.tls.cert ? { cert: rel(config.smtp.tls.cert) } : {}),
        },
      },
      shaping: { ...config.shaping, files: config.shaping.files.map(rel) },
    },
  };
};

export const configPathFrom = (flag: string | undefined): string =>
  flag ?? process.env.MAILTRAIL_CONFIG ?? 'mailtrail.yaml';
