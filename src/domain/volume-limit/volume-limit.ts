/**
 * Per-credential volume caps over rolling windows of whole minutes: the hour is this minute
 * and the 59 before it, the day this minute and the 1,439 before it. Pure: the minutes
 * submitted so far and the time are given.
 */

export interface Counts {
  readonly messages: number;
  readonly recipients: number;
}

export type VolumeWindow = 'hour' | 'day';
export type Measure = keyof Counts;

/** A cap per window and measure; absent: unlimited. */
export type VolumeCaps = {
  readonly [W in VolumeWindow]?: { readonly [M in Measure]?: number };
};

/** What a credential submitted in one UTC minute. */
export interface MinuteVolume extends Counts {
  /** The minute's start, epoch ms. */
  readonly minute: number;
}

export const MINUTE_MS = 60_000;
export const WINDOW_MS: Readonly<Record<VolumeWindow, number>> = {
  hour: 60 * MINUTE_MS,
  day: 24 * 60 * MINUTE_MS,
};
const WINDOWS: readonly VolumeWindow[] = ['hour', 'day'];
const MEASURES: readonly Measure[] = ['messages', 'recipients'];

export const minuteOf = (at: number): number => Math.floor(at / MINUTE_MS) * MINUTE_MS;

/** The first minute still inside the window that ends now. */
const windowStart = (window: VolumeWindow, now: number): number =>
  minuteOf(now) - WINDOW_MS[window] + MINUTE_MS;

export const usageIn = (
  minutes: readonly MinuteVolume[],
  window: VolumeWindow,
  now: number,
): Counts => {
  const from = windowStart(window, now);
  let messages = 0;
  let recipients = 0;
  for (const m of minutes)
    if (m.minute >= from && m.minute <= now) {
      messages += m.messages;
      recipients += m.recipients;
    }
  return { messages, recipients };
};

/** A cap this submission would go over, and when it would fit again. */
export interface CapReached {
  readonly window: VolumeWindow;
  readonly measure: Measure;
  readonly cap: number;
  readonly used: number;
  /**
   * When enough of the window's oldest minutes have left it for the submission to fit;
   * null when it never can (it alone is over the cap).
   */
  readonly retryAt: number | null;
}

const fitsAgainAt = (
  minutes: readonly MinuteVolume[],
  window: VolumeWindow,
  measure: Measure,
  over: number,
  now: number,
): number => {
  const from = windowStart(window, now);
  const inWindow = minutes
    .filter((m) => m.minute >= from && m.minute <= now)
    .sort((a, b) => a.minute - b.minute);
  let freed = 0;
  for (const m of inWindow) {
    freed += m[measure];
    // This minute leaves the window once the window's first minute is past it.
    if (freed >= over) return m.minute + WINDOW_MS[window];
  }
  return minuteOf(now) + WINDOW_MS[window];
};

/** The first cap that `adding` would take the credential over, or null when it fits. */
export const capReached = (
  caps: VolumeCaps,
  minutes: readonly MinuteVolume[],
  adding: Counts,
  now: number,
): CapReached | null => {
  for (const window of WINDOWS) {
    const limits = caps[window];
    if (!limits) continue;
    const used = usageIn(minutes, window, now);
    for (const measure of MEASURES) {
      const cap = limits[measure];
      if (cap === undefined || used[measure] + adding[measure] <= cap) continue;
      return {
        window,
        measure,
        cap,
        used: used[measure],
        retryAt:
          adding[measure] > cap
            ? null
            : fitsAgainAt(minutes, window, measure, used[measure] + adding[measure] - cap, now),
      };
    }
  }
  return null;
};

/** `minutes` with `adding` counted in the minute of `at`, and minutes older than a day gone. */
export const recordVolume = (
  minutes: readonly MinuteVolume[],
  adding: Counts,
  at: number,
): MinuteVolume[] => {
  const minute = minuteOf(at);
  const from = windowStart('day', at);
  const kept = minutes.filter((m) => m.minute >= from);
  const last = kept.at(-1);
  if (last && last.minute === minute)
    kept[kept.length - 1] = {
      minute,
      messages: last.messages + adding.messages,
      recipients: last.recipients + adding.recipients,
    };
  else kept.push({ minute, ...adding });
  return kept;
};

/** The caps that apply to a credential: its own entry over the `*` one, measure by measure. */
export const capsFor = (
  configured: Readonly<Record<string, VolumeCaps>>,
  credentialName: string,
): VolumeCaps | null => {
  const general = configured['*'] ?? {};
  const own = configured[credentialName] ?? {};
  const merged: { [W in VolumeWindow]?: { [M in Measure]?: number } } = {};
  for (const window of WINDOWS) {
    const limits = { ...general[window], ...own[window] };
    if (Object.keys(limits).length > 0) merged[window] = limits;
  }
  return Object.keys(merged).length > 0 ? merged : null;
};

export const describeCap = (reached: CapReached): string =>
  `${reached.cap} ${reached.measure} per ${reached.window}`;
