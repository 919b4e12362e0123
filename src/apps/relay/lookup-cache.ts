/**
 * A read-model lookup remembered per key for `ttlMs`. Acceptance reads a credential's
 * domains, pool and unsubscribe setting and whether a domain is ours for every message;
 * they change rarely, so a change applying within `ttlMs` is the trade (as with DKIM keys).
 * What must apply at once is never kept on a timer: suppressions are read every time, and
 * API keys are remembered only until their projection says they changed (`rememberedLookup`).
 */
export const cachedLookup = <V>(
  lookup: (key: string) => V,
  ttlMs: number,
  now: () => number,
  maxEntries = 10_000,
): ((key: string) => V) => {
  const entries = new Map<string, { readonly value: V; readonly until: number }>();
  return (key) => {
    const at = now();
    const hit = entries.get(key);
    if (hit && hit.until > at) return hit.value;
    // A bound, not an LRU: past it the next lookups simply start over.
    if (entries.size >= maxEntries) entries.clear();
    const value = lookup(key);
    entries.set(key, { value, until: at + ttlMs });
    return value;
  };
};

/**
 * A read-model lookup remembered until `forget()`, which whoever applies the changes calls
 * once they are committed, so a change applies as soon as it would without the cache. Only
 * hits are kept: a key created a moment ago works at once, and made-up keys fill nothing.
 */
export const rememberedLookup = <V>(
  lookup: (key: string) => V | null,
  maxEntries = 10_000,
): { readonly get: (key: string) => V | null; readonly forget: () => void } => {
  const entries = new Map<string, V>();
  return {
    get: (key) => {
      const hit = entries.get(key);
      if (hit !== undefined) return hit;
      const value = lookup(key);
      if (value === null) return null;
      if (entries.size >= maxEntries) entries.clear();
      entries.set(key, value);
      return value;
    },
    forget: () => entries.clear(),
  };
};
