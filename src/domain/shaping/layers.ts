import type { Origin } from '../provenance/origin.js';
import type { WarmupPlan } from '../warmup/warmup.js';
import type { ResponseRule } from './response-rules.js';
import type { ShapingKey, ShapingValues } from './shaping-values.js';

export type LayerKind = 'default' | 'provider' | 'domain' | 'source';

export type { Origin } from '../provenance/origin.js';

/** One layer of one shaping file: what it sets, and the line of each key it sets. */
export interface ShapingLayer {
  readonly kind: LayerKind;
  /** The provider, domain or source name; 'default' for the default layer. */
  readonly name: string;
  readonly values: ShapingValues;
  readonly origins: Partial<Record<ShapingKey, Origin>>;
  /** Rules on the remote's replies; every applicable layer's rules apply. */
  readonly responses: readonly ResponseRule[];
}

export interface Provider {
  readonly name: string;
  /** MX host suffixes: a domain whose MX hosts end in one of these is hosted here. */
  readonly mx: readonly string[];
  readonly origin: Origin;
}

export interface DomainOptions {
  /** false: the domain keeps its own site and limits even if its MX is a provider's. */
  readonly rollup: boolean;
}

/** All shaping files, in the order given: a later file overrides an earlier one per layer. */
export interface ShapingRules {
  readonly layers: readonly ShapingLayer[];
  readonly providers: readonly Provider[];
  readonly domains: Readonly<Record<string, DomainOptions>>;
  /** Warm-up plans by egress source name. */
  readonly warmups: Readonly<Record<string, WarmupPlan>>;
}

export const EMPTY_RULES: ShapingRules = { layers: [], providers: [], domains: {}, warmups: {} };

export const mergeRules = (a: ShapingRules, b: ShapingRules): ShapingRules => ({
  layers: [...a.layers, ...b.layers],
  // A provider defined again (same name) takes the later MX list.
  providers: [
    ...a.providers.filter((p) => !b.providers.some((q) => q.name === p.name)),
    ...b.providers,
  ],
  domains: { ...a.domains, ...b.domains },
  warmups: { ...a.warmups, ...b.warmups },
});
