/**
 * A small seeded generator of numbers in [0, 1) for generated test cases: the same seed
 * gives the same cases, so a failing one can be replayed.
 */
export const seededRandom = (seed: number) => (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
