import { createResolver } from '../dns/resolver.js';

export type ResolveRecords = (domain: string, type: string) => Promise<unknown[]>;

/**
 * MX, A, AAAA and TXT lookups through the configured resolvers (`dns.servers`), for
 * mx-connect. With no servers configured, the system's resolvers are used.
 */
export const createResolveRecords = (
  servers: readonly string[],
  timeoutMs: number,
): ResolveRecords => {
  const resolver = createResolver(servers, timeoutMs);
  return async (domain, type) => {
    switch (type) {
      case 'MX':
        return resolver.resolveMx(domain);
      case 'A':
        return resolver.resolve4(domain);
      case 'AAAA':
        return resolver.resolve6(domain);
      case 'TXT':
        return resolver.resolveTxt(domain);
      default:
        throw Object.assign(new Error(`unsupported record type ${type}`), { code: 'ENOTIMP' });
    }
  };
};
