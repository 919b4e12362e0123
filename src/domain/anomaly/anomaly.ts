/**
 * A credential's mail set against its own past: a volume spike over its rolling baseline,
 * a bounce rate far above its usual, a sending domain it never used. Pure: the figures and
 * the time are given; what to do about an anomaly (record, pause, alert) is the caller's.
 */

export interface AnomalyPolicy {
  /** The last hour's messages over its average hour that makes a spike. */
  readonly spikeFactor: number;
  /** No spike below this many messages in the hour, whatever the factor. */
  readonly minMessages: number;
  /** A credential younger than this has no baseline: nothing is judged against it. */
  readonly minHistoryMs: number;
  /** An hourly bounce rate (0..1) at least this high ... */
  readonly bounceRate: number;
  /** ... and at least this many times the credential's usual rate is unusual. */
  readonly bounceFactor: number;
  /** Outcomes (delivered + bounced) in the hour before a rate means anything. */
  readonly minOutcomes: number;
  readonly newDomains: boolean;
}

export interface Activity {
  readonly messages: number;
  readonly delivered: number;
  readonly bounced: number;
}

export interface CredentialFigures {
  readonly credentialId: string;
  readonly name: string;
  /** Its first submission (epoch ms). */
  readonly firstSeen: number;
  readonly lastHour: Activity;
  /** The week before the last hour (or as much of it as the credential has). */
  readonly baseline: Activity;
  /** Domains it sent from for the first time since the last look, and when. */
  readonly newDomains: ReadonlyArray<{ readonly domain: string; readonly firstSeen: number }>;
}

export type AnomalyKind = 'volume-spike' | 'new-domain' | 'bounce-rate';

export interface Anomaly {
  readonly kind: AnomalyKind;
  /** What makes it this anomaly and not another one of its kind (the domain). */
  readonly subject: string;
  readonly figures: Readonly<Record<string, number | string>>;
  readonly summary: string;
}

const HOUR = 3_600_000;
const WEEK_HOURS = 7 * 24;
const round = (n: number, places = 1) => Math.round(n * 10 ** places) / 10 ** places;
const percent = (rate: number) => `${round(rate * 100)}%`;

/** Hours of baseline the credential has: the week before the last hour, or less. */
export const baselineHours = (firstSeen: number, now: number): number =>
  Math.max(1, Math.min(WEEK_HOURS, (now - HOUR - firstSeen) / HOUR));

export const detectAnomalies = (
  f: CredentialFigures,
  policy: AnomalyPolicy,
  now: number,
): Anomaly[] => {
  const anomalies: Anomaly[] = [];
  const seasoned = now - f.firstSeen >= policy.minHistoryMs;
  if (seasoned && f.lastHour.messages >= policy.minMessages) {
    const perHour = f.baseline.messages / baselineHours(f.firstSeen, now);
    const factor = f.lastHour.messages / Math.max(perHour, 1);
    if (factor >= policy.spikeFactor)
      anomalies.push({
        kind: 'volume-spike',
        subject: '',
        figures: {
          lastHour: f.lastHour.messages,
          baselinePerHour: round(perHour),
          factor: round(factor),
        },
        summary: `${f.lastHour.messages} messages in the last hour, ${round(factor)}× its usual ${round(perHour)} an hour`,
      });
  }
  const outcomes = f.lastHour.delivered + f.lastHour.bounced;
  if (outcomes >= policy.minOutcomes) {
    const rate = f.lastHour.bounced / outcomes;
    const usualOutcomes = f.baseline.delivered + f.baseline.bounced;
    const usual = usualOutcomes > 0 ? f.baseline.bounced / usualOutcomes : 0;
    if (rate >= policy.bounceRate && rate >= policy.bounceFactor * usual)
      anomalies.push({
        kind: 'bounce-rate',
        subject: '',
        figures: {
          bounced: f.lastHour.bounced,
          outcomes,
          rate: round(rate, 3),
          baselineRate: round(usual, 3),
        },
        summary: `${percent(rate)} of its recipients bounced in the last hour (${f.lastHour.bounced} of ${outcomes}); usually ${percent(usual)}`,
      });
  }
  if (policy.newDomains)
    for (const d of f.newDomains) {
      // Its first domains are not new; nor is anything before it has a history.
      if (d.firstSeen <= f.firstSeen || d.firstSeen - f.firstSeen < policy.minHistoryMs) continue;
      anomalies.push({
        kind: 'new-domain',
        subject: d.domain,
        figures: { domain: d.domain, firstSeen: new Date(d.firstSeen).toISOString() },
        summary: `sent from ${d.domain} for the first time`,
      });
    }
  return anomalies;
};
