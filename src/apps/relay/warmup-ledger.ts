import { utcDay, type WarmupPlan, warmupStanding } from '../../domain/warmup/warmup.js';

/**
 * What each warming source may still send to each site today: its cap less what it has
 * delivered (read from the egress-volume projection the first time a day is asked about,
 * then counted here) and what attempts under way may deliver.
 */
export const createWarmupLedger = (deps: {
  readonly plans: Readonly<Record<string, WarmupPlan>>;
  readonly deliveredOn: (source: string, site: string, day: number) => number;
  readonly now: () => number;
}) => {
  const days = new Map<string, { used: number; reserved: number }>();

  const entry = (source: string, site: string, day: number) => {
    const key = `${source} ${site} ${day}`;
    let e = days.get(key);
    if (!e) {
      // A new day: forget the others.
      for (const k of days.keys()) if (!k.endsWith(` ${day}`)) days.delete(k);
      e = { used: deps.deliveredOn(source, site, day), reserved: 0 };
      days.set(key, e);
    }
    return e;
  };

  return {
    /** Recipients the source may still send to the site today; null: no cap. */
    remaining: (source: string, site: string, provider: string | undefined): number | null => {
      const plan = deps.plans[source];
      if (!plan) return null;
      const now = deps.now();
      const { cap } = warmupStanding(plan, provider, now);
      if (cap === null) return null;
      const e = entry(source, site, utcDay(now));
      return Math.max(0, cap - e.used - e.reserved);
    },
    /** An attempt of `n` recipients is starting. */
    reserve: (source: string, site: string, n: number): void => {
      if (deps.plans[source]) entry(source, site, utcDay(deps.now())).reserved += n;
    },
    /** It ended, and delivered `delivered` of them. */
    settle: (source: string, site: string, reserved: number, delivered: number): void => {
      if (!deps.plans[source]) return;
      const e = entry(source, site, utcDay(deps.now()));
      e.reserved = Math.max(0, e.reserved - reserved);
      e.used += delivered;
    },
  };
};

export type WarmupLedger = ReturnType<typeof createWarmupLedger>;
