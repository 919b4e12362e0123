import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { z } from 'zod';
import type {
  DomainOptions,
  LayerKind,
  Origin,
  Provider,
  ShapingLayer,
  ShapingRules,
} from '../../domain/shaping/layers.js';
import type { ResponseRule } from '../../domain/shaping/response-rules.js';
import {
  ResponseRuleSchema,
  type ShapingKey,
  ShapingValuesSchema,
} from '../../domain/shaping/shaping-values.js';
import { type WarmupPlan, WarmupSchema, warmupPlan } from '../../domain/warmup/warmup.js';
import type { RuleFileError } from '../rule-files/rule-file-error.js';

export type LoadedShaping =
  | { readonly ok: true; readonly rules: ShapingRules }
  | { readonly ok: false; readonly errors: readonly RuleFileError[] };

const SECTIONS = {
  default: 'default',
  providers: 'provider',
  domains: 'domain',
  sources: 'source',
} as const;
const HOST =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const ProviderExtras = z
  .object({
    mx: z
      .array(z.string().toLowerCase().regex(HOST, 'expected an MX host suffix such as google.com'))
      .min(1),
  })
  .strict();
const DomainExtras = z.object({ rollup: z.boolean() }).partial().strict();

/** Parses shaping YAML; every error carries its file and line. */
export const parseShaping = (text: string, file: string): LoadedShaping => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number | undefined): number =>
    offset === undefined ? 1 : lineCounter.linePos(offset).line;
  if (doc.errors.length > 0)
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        file,
        line: lineAt(e.pos[0]),
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  const errors: RuleFileError[] = [];
  const fail = (path: readonly (string | number)[], message: string, node?: Node | null) =>
    errors.push({
      file,
      line: lineAt(node?.range?.[0] ?? (doc.getIn(path, true) as Node | undefined)?.range?.[0]),
      path: path.join('.'),
      message,
    });

  /** The line of a key in a mapping (for an unknown key, and for each value's origin). */
  const keyNode = (mapPath: readonly (string | number)[], key: string): Node | undefined => {
    const map = mapPath.length === 0 ? doc.contents : doc.getIn(mapPath, true);
    if (!isMap(map)) return undefined;
    const pair = (map as YAMLMap).items.find(
      (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key,
    );
    return pair && isScalar(pair.key) ? pair.key : undefined;
  };

  const root = doc.toJS() ?? {};
  if (typeof root !== 'object' || Array.isArray(root)) {
    fail([], 'expected a mapping with default, providers, domains and sources');
    return { ok: false, errors };
  }
  for (const key of Object.keys(root))
    if (!(key in SECTIONS))
      fail(
        [],
        `unknown section "${key}" (expected default, providers, domains, sources)`,
        keyNode([], key),
      );

  const layers: ShapingLayer[] = [];
  const providers: Provider[] = [];
  const domains: Record<string, DomainOptions> = {};
  const warmups: Record<string, WarmupPlan> = {};

  const layer = (
    kind: LayerKind,
    name: string,
    path: readonly string[],
    raw: unknown,
    extras: readonly string[],
  ) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(path, 'expected a mapping of shaping values');
      return undefined;
    }
    const values = Object.fromEntries(
      Object.entries(raw).filter(([k]) => !extras.includes(k) && k !== 'responses'),
    );
    const responses: ResponseRule[] = [];
    const rawResponses = (raw as Record<string, unknown>).responses;
    if (rawResponses !== undefined) {
      if (!Array.isArray(rawResponses)) fail([...path, 'responses'], 'expected a list of rules');
      else
        rawResponses.forEach((entry, i) => {
          const rule = ResponseRuleSchema.safeParse(entry);
          if (!rule.success) {
            for (const issue of rule.error.issues)
              fail(
                [...path, 'responses', i, ...(issue.path as (string | number)[])],
                issue.message,
              );
            return;
          }
          const { match, within, for: forMs, ...rest } = rule.data;
          responses.push({
            ...rest,
            match: new RegExp(match, 'i'),
            withinMs: within,
            forMs,
            origin: {
              file,
              line: lineAt(
                (doc.getIn([...path, 'responses', i], true) as Node | undefined)?.range?.[0],
              ),
            },
          });
        });
    }
    const parsed = ShapingValuesSchema.safeParse(values);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys')
          for (const k of (issue as { keys: string[] }).keys)
            fail([...path, k], `unknown shaping key "${k}"`, keyNode(path, k));
        else fail([...path, ...(issue.path as (string | number)[])], issue.message);
      }
      return undefined;
    }
    const origins: Partial<Record<ShapingKey, Origin>> = {};
    for (const key of Object.keys(parsed.data) as ShapingKey[])
      origins[key] = { file, line: lineAt(keyNode(path, key)?.range?.[0]) };
    layers.push({ kind, name, values: parsed.data, origins, responses });
    return raw as Record<string, unknown>;
  };

  if ('default' in root) layer('default', 'default', ['default'], root.default, []);
  for (const [section, kind] of [
    ['providers', 'provider'],
    ['domains', 'domain'],
    ['sources', 'source'],
  ] as const) {
    const entries = (root as Record<string, unknown>)[section];
    if (entries === undefined || entries === null) continue;
    if (typeof entries !== 'object' || Array.isArray(entries)) {
      fail([section], `expected a mapping of ${section} by name`);
      continue;
    }
    for (const [name, raw] of Object.entries(entries)) {
      const path = [section, name];
      const extras = kind === 'provider' ? ['mx'] : kind === 'domain' ? ['rollup'] : ['warmup'];
      const got = layer(kind, kind === 'domain' ? name.toLowerCase() : name, path, raw, extras);
      if (!got) continue;
      if (kind === 'provider') {
        const p = ProviderExtras.safeParse({ mx: got.mx });
        if (!p.success)
          fail([...path, 'mx'], p.error.issues[0]?.message ?? 'expected mx: [suffix, ...]');
        else
          providers.push({
            name,
            mx: p.data.mx,
            origin: { file, line: lineAt(keyNode(path, 'mx')?.range?.[0]) },
          });
      }
      if (kind === 'domain' && 'rollup' in got) {
        const d = DomainExtras.safeParse({ rollup: got.rollup });
        if (!d.success) fail([...path, 'rollup'], 'expected true or false');
        else domains[name.toLowerCase()] = { rollup: d.data.rollup ?? true };
      }
      if (kind === 'source' && 'warmup' in got) {
        const w = WarmupSchema.safeParse(got.warmup);
        if (!w.success)
          for (const issue of w.error.issues)
            fail([...path, 'warmup', ...(issue.path as (string | number)[])], issue.message);
        else
          warmups[name] = warmupPlan(name, w.data, {
            file,
            line: lineAt(keyNode(path, 'warmup')?.range?.[0]),
          });
      }
    }
  }
  return errors.length > 0
    ? { ok: false, errors }
    : { ok: true, rules: { layers, providers, domains, warmups } };
};

export const loadShapingFile = (file: string): LoadedShaping => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ file, line: 0, path: '', message: (error as Error).message }] };
  }
  return parseShaping(text, file);
};
