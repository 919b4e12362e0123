import { orNone } from '../../adapters/dns/resolver.js';
import type { Route } from '../../adapters/smtp-out/open-connection.js';
import { effectiveShaping, responseRulesFor } from '../../domain/shaping/effective.js';
import type { ShapingRules } from '../../domain/shaping/layers.js';
import type { ResponseRule } from '../../domain/shaping/response-rules.js';
import type { BaseShaping, ShapingValues } from '../../domain/shaping/shaping-values.js';
import { queueKey, type Site, siteOf } from '../../domain/shaping/site.js';

export interface SiteShaping {
  /** The destination site (`provider:google`, `mx:...`): what warm-up and queue bounces count. */
  readonly site: string;
  /** The provider hosting the site, if one does (its warm-up schedule applies). */
  readonly provider: string | undefined;
  /**
   * The site as seen from one egress source (`provider:google from mta1`): what connection
   * and rate limits, backoff and suspension apply to (PowerMTA's per-VMTA queue).
   */
  readonly queue: string;
  readonly source: string | null;
  readonly values: Required<ShapingValues>;
  readonly responses: readonly ResponseRule[];
}

export interface SiteShapingDeps {
  readonly rules: ShapingRules;
  readonly base: BaseShaping;
  readonly routes: Readonly<Record<string, Route>>;
  readonly resolveMx: (domain: string) => Promise<Array<{ exchange: string; priority: number }>>;
  readonly now: () => number;
  /** How long a domain's site is remembered (MX sets change rarely). */
  readonly ttlMs?: number;
}

interface Known {
  readonly site: Site;
  readonly until: number;
  /** The shaping per egress source ('' for none), worked out on first use. */
  readonly bySource: Map<string, SiteShaping>;
}

/**
 * Which site a recipient domain belongs to and the shaping values in force for it. A
 * routed domain's site is its route (`[host]:port`), an MX-routed one its MX host set
 * rolled up by provider. The MX lookup is made once per domain and remembered for `ttlMs`;
 * the values per source are then worked out without waiting.
 */
export const createSiteShaping = (deps: SiteShapingDeps) => {
  const ttl = deps.ttlMs ?? 300_000;
  const known = new Map<string, Known>();
  const lookups = new Map<string, Promise<void>>();

  const mxHostsOf = async (domain: string): Promise<string[]> => {
    const route = deps.routes[domain] ?? deps.routes['*'];
    if (route?.direct) return [`${route.host}:${route.port ?? 25}`];
    const target = route ? route.host : domain;
    const records = await orNone(deps.resolveMx(target)).catch(() => []);
    return records.sort((a, b) => a.priority - b.priority).map((r) => r.exchange);
  };

  /** Limits are per site and egress source: the same site from two sources is two queues. */
  const cached = (domain: string, source: string | null = null): SiteShaping | undefined => {
    const hit = known.get(domain);
    if (!hit || hit.until <= deps.now()) return undefined;
    const memo = hit.bySource.get(source ?? '');
    if (memo) return memo;
    const effective = effectiveShaping(deps.rules, deps.base, domain, hit.site, source);
    const value: SiteShaping = {
      site: hit.site.key,
      provider: hit.site.provider?.name,
      queue: queueKey(hit.site.key, source),
      source,
      values: Object.fromEntries(
        Object.entries(effective).map(([k, v]) => [k, v.value]),
      ) as Required<ShapingValues>,
      responses: responseRulesFor(deps.rules, domain, hit.site, source),
    };
    hit.bySource.set(source ?? '', value);
    return value;
  };

  /** Looks the domain's MX up once, however many ask at the same time. */
  const lookUp = (domain: string): Promise<void> => {
    let pending = lookups.get(domain);
    if (!pending) {
      pending = mxHostsOf(domain)
        .then((mx) => {
          known.set(domain, {
            site: siteOf(domain, mx, deps.rules),
            until: deps.now() + ttl,
            bySource: new Map(),
          });
        })
        .finally(() => lookups.delete(domain));
      lookups.set(domain, pending);
    }
    return pending;
  };

  const resolve = async (domain: string, source: string | null = null): Promise<SiteShaping> => {
    const hit = cached(domain, source);
    if (hit) return hit;
    await lookUp(domain);
    return cached(domain, source) as SiteShaping;
  };

  /** The recipient domains known to belong to a site. */
  const domainsOf = (site: string): string[] =>
    [...known].filter(([, k]) => k.site.key === site).map(([domain]) => domain);

  return { resolve, cached, domainsOf };
};

export type SiteShapingLookup = ReturnType<typeof createSiteShaping>;
