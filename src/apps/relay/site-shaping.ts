import { orNone } from '../../adapters/dns/resolver.js';
import type { Route } from '../../adapters/smtp-out/open-connection.js';
import { effectiveShaping, responseRulesFor } from '../../domain/shaping/effective.js';
import type { ShapingRules } from '../../domain/shaping/layers.js';
import type { ResponseRule } from '../../domain/shaping/response-rules.js';
import type { BaseShaping, ShapingValues } from '../../domain/shaping/shaping-values.js';
import { siteOf } from '../../domain/shaping/site.js';

export interface SiteShaping {
  readonly site: string;
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

/**
 * Which site a recipient domain belongs to and the shaping values in force for it. A
 * routed domain's site is its route (`[host]:port`), an MX-routed one its MX host set
 * rolled up by provider. Looked up once per domain and remembered for `ttlMs`.
 */
export const createSiteShaping = (deps: SiteShapingDeps) => {
  const ttl = deps.ttlMs ?? 300_000;
  const known = new Map<string, { readonly value: SiteShaping; readonly until: number }>();

  const mxHostsOf = async (domain: string): Promise<string[]> => {
    const route = deps.routes[domain] ?? deps.routes['*'];
    if (route?.direct) return [`${route.host}:${route.port ?? 25}`];
    const target = route ? route.host : domain;
    const records = await orNone(deps.resolveMx(target)).catch(() => []);
    return records.sort((a, b) => a.priority - b.priority).map((r) => r.exchange);
  };

  /** Limits are per site and egress source: the same site from two sources is two gates. */
  const cached = (domain: string, source: string | null = null): SiteShaping | undefined => {
    const hit = known.get(`${domain} ${source ?? ''}`);
    return hit && hit.until > deps.now() ? hit.value : undefined;
  };

  const resolve = async (domain: string, source: string | null = null): Promise<SiteShaping> => {
    const hit = cached(domain, source);
    if (hit) return hit;
    const site = siteOf(domain, await mxHostsOf(domain), deps.rules);
    const effective = effectiveShaping(deps.rules, deps.base, domain, site, source);
    const values = Object.fromEntries(
      Object.entries(effective).map(([k, v]) => [k, v.value]),
    ) as Required<ShapingValues>;
    const responses = responseRulesFor(deps.rules, domain, site, source);
    const value = { site: source ? `${site.key} from ${source}` : site.key, values, responses };
    known.set(`${domain} ${source ?? ''}`, { value, until: deps.now() + ttl });
    return value;
  };

  return { resolve, cached };
};

export type SiteShapingLookup = ReturnType<typeof createSiteShaping>;
