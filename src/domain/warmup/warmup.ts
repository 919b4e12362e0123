import { z } from 'zod';
import type { Origin } from '../provenance/origin.js';

/**
 * IP warm-up: a new egress source earns its reputation by sending a little more each day.
 * Per source, a start date and daily caps per provider (`default` for every other site);
 * past the last day of its schedule the source is warm and has no cap.
 */
export interface WarmupPlan {
  readonly source: string;
  /** UTC days since the epoch of the plan's first day (day 1). */
  readonly startDay: number;
  /** Daily caps by provider name, `default` for sites without their own: day 1 first. */
  readonly daily: Readonly<Record<string, readonly number[]>>;
  readonly origin: Origin;
}

const DAY_MS = 86_400_000;

/** The UTC day a time falls on, as days since the epoch: what daily counts are keyed by. */
export const utcDay = (at: number): number => Math.floor(at / DAY_MS);

/** `from` on day 1 to `to` on day `days`, each day the same factor up: a geometric ramp. */
export const expandRamp = (from: number, to: number, days: number): number[] =>
  Array.from({ length: days }, (_, i) =>
    Math.round(days === 1 ? to : from * (to / from) ** (i / (days - 1))),
  );

const RampSchema = z
  .object({
    from: z.number().int().positive(),
    to: z.number().int().positive(),
    days: z.number().int().min(1).max(366),
  })
  .strict()
  .refine((r) => r.to >= r.from, { message: 'a ramp goes up: expected to >= from' })
  .transform((r) => expandRamp(r.from, r.to, r.days));

const ScheduleSchema = z.union([z.array(z.number().int().nonnegative()).min(1), RampSchema]);

/** `sources.<name>.warmup` in a shaping file. */
export const WarmupSchema = z
  .object({
    start: z
      .string()
      .refine(
        (d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)),
        'expected the first day as a date, YYYY-MM-DD',
      ),
    daily: z.record(z.string(), ScheduleSchema).refine((d) => Object.keys(d).length > 0, {
      message: 'expected caps for at least one provider, or default',
    }),
  })
  .strict();

export const warmupPlan = (
  source: string,
  raw: z.infer<typeof WarmupSchema>,
  origin: Origin,
): WarmupPlan => ({
  source,
  startDay: utcDay(Date.parse(`${raw.start}T00:00:00Z`)),
  daily: raw.daily,
  origin,
});

/** Where a source stands with one site today. */
export interface WarmupStanding {
  /** Day 1 is the start date; 0 or less: not started yet. */
  readonly day: number;
  /** How many days the schedule for this site has. */
  readonly days: number;
  /** Today's cap; null once the source is warm for this site. */
  readonly cap: number | null;
  /** The schedule that applies: the provider's name or `default`; null: none (no cap). */
  readonly schedule: string | null;
}

/**
 * Today's cap for a source at a site of `provider` (undefined: a site no provider hosts).
 * Before the start date the cap is 0: a source that is not warming yet sends nothing.
 */
export const warmupStanding = (
  plan: WarmupPlan,
  provider: string | undefined,
  now: number,
): WarmupStanding => {
  const schedule =
    provider !== undefined && plan.daily[provider]
      ? provider
      : plan.daily.default
        ? 'default'
        : null;
  const day = utcDay(now) - plan.startDay + 1;
  const caps = schedule ? (plan.daily[schedule] ?? []) : [];
  if (!schedule) return { day, days: 0, cap: null, schedule };
  const cap = day < 1 ? 0 : day > caps.length ? null : (caps[day - 1] ?? null);
  return { day, days: caps.length, cap, schedule };
};
