import type { Provider, ShapingRules } from './layers.js';

const normalize = (host: string): string => host.toLowerCase().replace(/\.$/, '');

/** The provider hosting these MX hosts: every host ends in one of its suffixes. */
export const providerFor = (
  mxHosts: readonly string[],
  providers: readonly Provider[],
): Provider | undefined => {
  const hosts = mxHosts.map(normalize);
  if (hosts.length === 0) return undefined;
  return providers.find((p) =>
    hosts.every((h) => p.mx.some((suffix) => h === suffix || h.endsWith(`.${suffix}`))),
  );
};

/**
 * The destination site a recipient domain belongs to: its provider when it rolls up (all
 * Google-hosted domains share one site, so one set of limits and counters), otherwise its
 * own MX host set.
 */
export interface Site {
  readonly key: string;
  readonly provider: Provider | undefined;
}

export const siteOf = (domain: string, mxHosts: readonly string[], rules: ShapingRules): Site => {
  const rollup = rules.domains[domain]?.rollup ?? true;
  const provider = rollup ? providerFor(mxHosts, rules.providers) : undefined;
  if (provider) return { key: `provider:${provider.name}`, provider };
  const hosts = [...new Set(mxHosts.map(normalize))].sort();
  return {
    key: hosts.length > 0 ? `mx:${hosts.join(',')}` : `domain:${domain}`,
    provider: undefined,
  };
};

/**
 * A site as seen from one egress source (`provider:gmail from mta1`), PowerMTA's queue per
 * VMTA: connection and rate limits, backoff and suspension are counted per queue.
 */
export const queueKey = (site: string, source: string | null): string =>
  source ? `${site} from ${source}` : site;
