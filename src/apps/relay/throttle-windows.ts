import { bufferTime, filter, type Observable } from 'rxjs';
import type { AttemptOutcome } from './attempt-outcomes.js';

export interface WindowCounts {
  readonly attempts: number;
  readonly delivered: number;
  readonly deferred: number;
  readonly bounced: number;
  /** Deferrals over attempts, 0 when there were none. */
  readonly deferralRate: number;
}

export interface WindowRow {
  readonly dimension: 'site' | 'source' | 'credential';
  readonly key: string;
  readonly lastMinute: WindowCounts;
  readonly lastHour: WindowCounts;
}

type Buckets = Map<number, { delivered: number; deferred: number; bounced: number }>;

const HOUR_S = 3600;

/**
 * Live counts per site, egress source and credential over the last minute and hour, folded
 * from the attempt outcomes in the live event stream with rxjs: outcomes are gathered a second at a time
 * (`bufferTime`) into per-second buckets, an hour of them per key. Held in memory: a
 * restart starts the windows empty (the durable history is the log).
 */
export const createThrottleWindows = (outcomes: Observable<AttemptOutcome>) => {
  const keys = new Map<string, Buckets>();
  const add = (key: string, second: number, outcome: AttemptOutcome['outcome']) => {
    let buckets = keys.get(key);
    if (!buckets) {
      buckets = new Map();
      keys.set(key, buckets);
    }
    let bucket = buckets.get(second);
    if (!bucket) {
      bucket = { delivered: 0, deferred: 0, bounced: 0 };
      buckets.set(second, bucket);
    }
    bucket[outcome]++;
  };
  const subscription = outcomes
    .pipe(
      bufferTime(1000),
      filter((batch) => batch.length > 0),
    )
    .subscribe((batch) => {
      for (const o of batch) {
        const second = Math.floor(o.at / 1000);
        add(`site ${o.site}`, second, o.outcome);
        if (o.source) add(`source ${o.source}`, second, o.outcome);
        if (o.credential) add(`credential ${o.credential}`, second, o.outcome);
      }
      // Forget what has left the hour.
      const oldest = Math.floor((batch[batch.length - 1] as AttemptOutcome).at / 1000) - HOUR_S;
      for (const [key, buckets] of keys) {
        for (const second of buckets.keys()) if (second <= oldest) buckets.delete(second);
        if (buckets.size === 0) keys.delete(key);
      }
    });

  const sum = (buckets: Buckets, since: number): WindowCounts => {
    let delivered = 0;
    let deferred = 0;
    let bounced = 0;
    for (const [second, b] of buckets)
      if (second > since) {
        delivered += b.delivered;
        deferred += b.deferred;
        bounced += b.bounced;
      }
    const attempts = delivered + deferred + bounced;
    return {
      attempts,
      delivered,
      deferred,
      bounced,
      deferralRate: attempts ? deferred / attempts : 0,
    };
  };

  return {
    snapshot: (now: number): WindowRow[] => {
      const second = Math.floor(now / 1000);
      return [...keys]
        .map(([key, buckets]) => {
          const space = key.indexOf(' ');
          return {
            dimension: key.slice(0, space) as WindowRow['dimension'],
            key: key.slice(space + 1),
            lastMinute: sum(buckets, second - 60),
            lastHour: sum(buckets, second - HOUR_S),
          };
        })
        .sort((a, b) => a.dimension.localeCompare(b.dimension) || a.key.localeCompare(b.key));
    },
    close: () => subscription.unsubscribe(),
  };
};
