import { Resolver } from 'node:dns/promises';

/** A resolver on the configured servers (`dns.servers`); none configured: the system's. */
export const createResolver = (servers: readonly string[], timeoutMs: number): Resolver => {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return resolver;
};

const NO_ANSWER = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** An empty list where the name or the record type does not exist; other failures throw. */
export const orNone = async <T>(lookup: Promise<T[]>): Promise<T[]> => {
  try {
    return await lookup;
  } catch (error) {
    if (NO_ANSWER.has((error as NodeJS.ErrnoException).code ?? '')) return [];
    throw error;
  }
};
