/** A weighted set of egress sources by name: `{ mta1: 2, mta2: 1 }`. */
export type PoolWeights = Readonly<Record<string, number>>;

/**
 * The source an attempt leaves from, drawn by weight; `random` in [0, 1) comes from the
 * caller so the choice stays pure. An empty pool has no source.
 */
export const chooseSource = (pool: PoolWeights, random: number): string | null => {
  const members = Object.entries(pool).filter(([, w]) => w > 0);
  const total = members.reduce((sum, [, w]) => sum + w, 0);
  let point = Math.min(Math.max(random, 0), 0.999_999_999) * total;
  for (const [name, weight] of members) {
    if (point < weight) return name;
    point -= weight;
  }
  return members[members.length - 1]?.[0] ?? null;
};
