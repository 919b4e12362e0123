const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `4d12h`, `5m`, `30s`, `250ms` → milliseconds; undefined when it is not a duration. */
export const parseDuration = (text: string): number | undefined => {
  const trimmed = text.trim();
  if (!/^(\d+(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)(ms|s|m|h|d)/g))
    total += Number(n) * (UNITS[unit as string] as number);
  return total;
};

/** Milliseconds back to the form parseDuration reads: 388800000 → `4d12h`. */
export const formatDuration = (ms: number): string => {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
};
