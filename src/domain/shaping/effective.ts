import type { LayerKind, Origin, ShapingLayer, ShapingRules } from './layers.js';
import type { ResponseRule } from './response-rules.js';
import {
  type BaseShaping,
  SHAPING_KEYS,
  type ShapingKey,
  type ShapingValues,
} from './shaping-values.js';
import type { Site } from './site.js';

/** A value in force and where it came from: the layer that set it last, and its line. */
export interface Sourced<T> {
  readonly value: T;
  /** `config`: no layer sets it; the relay's config gives it (`layerName` is the key). */
  readonly layer: LayerKind | 'config';
  readonly layerName: string;
  readonly origin: Origin | null;
}

export type EffectiveShaping = {
  readonly [K in ShapingKey]-?: Sourced<Required<ShapingValues>[K]>;
};

const ORDER: readonly LayerKind[] = ['default', 'provider', 'domain', 'source'];

const layerApplies = (
  layer: ShapingLayer,
  domain: string,
  site: Site,
  source: string | null,
): boolean => {
  switch (layer.kind) {
    case 'default':
      return true;
    case 'provider':
      return layer.name === site.provider?.name;
    case 'domain':
      return layer.name === domain;
    case 'source':
      return layer.name === source;
  }
};

/**
 * The values for one domain (on its site) sent from one egress source, layered
 * default → provider → domain → source, each key taken from the last layer that sets it.
 */
export const effectiveShaping = (
  rules: ShapingRules,
  base: BaseShaping,
  domain: string,
  site: Site,
  source: string | null,
): EffectiveShaping => {
  const applies = (layer: ShapingLayer): boolean => layerApplies(layer, domain, site, source);
  const layers = ORDER.flatMap((kind) => rules.layers.filter((l) => l.kind === kind && applies(l)));
  const out: Record<string, Sourced<unknown>> = {};
  for (const key of SHAPING_KEYS) {
    out[key] = {
      value: base.values[key],
      layer: 'config',
      layerName: base.keys[key],
      origin: null,
    };
    for (const layer of layers)
      if (key in layer.values)
        out[key] = {
          value: layer.values[key],
          layer: layer.kind,
          layerName: layer.name,
          origin: layer.origins[key] ?? null,
        };
  }
  return out as unknown as EffectiveShaping;
};

/** The reply rules for a domain's site: those of every layer that applies, in layer order. */
export const responseRulesFor = (
  rules: ShapingRules,
  domain: string,
  site: Site,
  source: string | null,
): ResponseRule[] =>
  ORDER.flatMap((kind) =>
    rules.layers.filter((l) => l.kind === kind && layerApplies(l, domain, site, source)),
  ).flatMap((l) => l.responses);
