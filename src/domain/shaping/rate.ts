/** A rate limit: `count` per `perMs` milliseconds, written `N/s`, `N/m`, `N/h` or `N/d`. */
export interface Rate {
  readonly count: number;
  readonly perMs: number;
  readonly text: string;
}

const PER: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const parseRate = (text: string): Rate | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h|d)\s*$/.exec(text);
  if (!m) return undefined;
  const count = Number(m[1]);
  if (!(count > 0)) return undefined;
  return { count, perMs: PER[m[2] as string] as number, text: `${m[1]}/${m[2]}` };
};

/**
 * GCRA (the generic cell rate algorithm, as in ATM and redis-cell), with no burst: one
 * event per `perMs / count`, evenly spaced, so no window of any length ever sees more than
 * its share (plus the one event at its edge). The state is the theoretical arrival time
 * of the next event; pure, so the caller keeps it and passes the time in.
 */
export interface GcraState {
  readonly tat: number;
}

export const GCRA_START: GcraState = { tat: 0 };

export type GcraDecision =
  | { readonly allowed: true; readonly state: GcraState }
  | { readonly allowed: false; readonly retryAt: number; readonly state: GcraState };

export const gcra = (state: GcraState, rate: Rate, now: number): GcraDecision => {
  // With no burst allowance an event conforms once its theoretical arrival time has come.
  if (state.tat > now) return { allowed: false, retryAt: state.tat, state };
  return { allowed: true, state: { tat: now + rate.perMs / rate.count } };
};
