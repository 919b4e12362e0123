/**
 * A read-model lookup remembered per key for `ttlMs`. Acceptance reads a credential's
 * domains, pool and unsubscribe setting and whether a domain is ours for every message;
 * they change rarely, so a change applying within `ttlMs` is the trade (as with DKIM keys),
 * while logins and suppressions, which must apply at once, are never cached.
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
