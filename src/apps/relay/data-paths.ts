import { join } from 'node:path';
import type { Config } from '../config/schema.js';

export const dataPaths = (config: Config) => ({
  events:
    config.store.kind === 'sqlite' && config.store.path
      ? config.store.path
      : join(config.dataDir, 'events.db'),
  projections: join(config.dataDir, 'projections.db'),
  tls: join(config.dataDir, 'tls'),
  keys: join(config.dataDir, 'keys'),
});
