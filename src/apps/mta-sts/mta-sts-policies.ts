import { randomUUID } from 'node:crypto';
import type { PolicySource } from '../../adapters/mta-sts/policy-source.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  afterFailedFetch,
  type MtaStsPolicies,
  type MtaStsPolicyFetched,
  MtaStsPolicyFetchedSchema,
  mtaStsStream,
  type PolicyStep,
  policyStep,
  type StsPolicy,
} from '../../domain/mta-sts/policy.js';

interface Known {
  /** The last policy fetched (from the log after a restart), live or not. */
  readonly cached: StsPolicy | undefined;
  /** The last one recorded in the log. */
  readonly recorded: StsPolicy | undefined;
  /** What applies until `until`. */
  readonly applies: StsPolicy | null;
  readonly until: number;
  /** A failed fetch is not tried again before this. */
  readonly fetchAgainAt: number;
}

export interface MtaStsPoliciesDeps {
  readonly store: EventStore;
  readonly source: PolicySource;
  readonly now: () => number;
  readonly log: { warn(obj: object, msg: string): void };
  /** How long a TXT answer stands before it is looked up again. */
  readonly recheckMs?: number;
  /** At most this many domains remembered; the longest unrefreshed go first. */
  readonly maxDomains?: number;
}

const FIVE_MINUTES = 5 * 60_000;
/** A policy fetched again unchanged is recorded again at most this often. */
const RECORD_UNCHANGED_AFTER = 24 * 3_600_000;

const sameContent = (a: StsPolicy, b: StsPolicy): boolean =>
  a.id === b.id &&
  a.mode === b.mode &&
  a.maxAgeSeconds === b.maxAgeSeconds &&
  a.mx.join(' ') === b.mx.join(' ');

/**
 * The MTA-STS policies of recipient domains, cached as RFC 8461 §3.3 asks: a fetched policy
 * is appended to `mta-sts-<domain>`, so after a restart the relay still applies it though
 * the TXT record or the policy host have since been hidden. The TXT record is looked up at
 * most every five minutes a domain, and a fetch that failed is not tried again sooner.
 */
export const createMtaStsPolicies = (
  deps: MtaStsPoliciesDeps,
): MtaStsPolicies & { close(): void } => {
  // A fetch under way when the relay stops would hold its thread open until its deadline.
  const closing = new AbortController();
  const recheckMs = deps.recheckMs ?? FIVE_MINUTES;
  const maxDomains = deps.maxDomains ?? 100_000;
  const known = new Map<string, Known>();
  const pending = new Map<string, Promise<StsPolicy | null>>();

  const remember = (domain: string, entry: Known): void => {
    known.delete(domain);
    known.set(domain, entry);
    if (known.size > maxDomains) known.delete(known.keys().next().value as string);
  };

  const fromLog = async (domain: string): Promise<StsPolicy | undefined> => {
    for await (const e of deps.store.readStream(mtaStsStream(domain), {
      direction: 'backwards',
      maxCount: 1,
    }))
      return MtaStsPolicyFetchedSchema.parse(e.data);
    return undefined;
  };

  const record = async (policy: StsPolicy): Promise<void> => {
    const event: MtaStsPolicyFetched = { type: 'MtaStsPolicyFetched', data: policy };
    try {
      await deps.store.appendToStream(
        mtaStsStream(policy.domain),
        [{ eventId: randomUUID(), ...event }],
        { expectedRevision: 'any' },
      );
    } catch (error) {
      // It still applies from memory; only a restart would forget it.
      deps.log.warn({ err: error, domain: policy.domain }, 'could not record the MTA-STS policy');
    }
  };

  const refresh = async (domain: string, before: Known | undefined): Promise<StsPolicy | null> => {
    const now = deps.now();
    let cached = before ? before.cached : await fromLog(domain);
    let recorded = before ? before.recorded : cached;
    let fetchAgainAt = before?.fetchAgainAt ?? 0;
    const txt = await deps.source.txt(domain);
    let step: PolicyStep = policyStep(cached, txt, now);
    // A refresh with the TXT record hidden keeps the id the policy was published under.
    const id = txt.kind === 'id' ? txt.id : cached?.id;
    if (step.kind === 'fetch' && id !== undefined) {
      if (now < fetchAgainAt) step = afterFailedFetch(cached, now);
      else {
        let policy: StsPolicy | undefined;
        try {
          const fetched = await deps.source.fetch(domain, closing.signal);
          policy = MtaStsPolicyFetchedSchema.parse({ domain, id, ...fetched, fetchedAt: now });
        } catch (error) {
          deps.log.warn({ err: error, domain }, 'could not fetch the MTA-STS policy');
          fetchAgainAt = now + recheckMs;
          step = afterFailedFetch(cached, now);
        }
        if (policy) {
          // The log gets what changed, and a policy fetched again unchanged once a day, so
          // a restart finds it about as fresh as memory had it.
          if (
            !recorded ||
            !sameContent(recorded, policy) ||
            now - recorded.fetchedAt >= RECORD_UNCHANGED_AFTER
          ) {
            await record(policy);
            recorded = policy;
          }
          cached = policy;
          step = { kind: 'use', policy };
        }
      }
    }
    const applies = step.kind === 'use' ? step.policy : null;
    // Whatever its max_age, an answer stands until the next look: a policy of max_age 0
    // would otherwise be fetched for every message.
    remember(domain, { cached, recorded, applies, until: now + recheckMs, fetchAgainAt });
    return applies;
  };

  return {
    policyFor: (domain) => {
      const key = domain.toLowerCase();
      const entry = known.get(key);
      if (entry && deps.now() < entry.until) return Promise.resolve(entry.applies);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const looking = refresh(key, entry).finally(() => pending.delete(key));
      pending.set(key, looking);
      return looking;
    },
    close: () => closing.abort(),
    recheck: (domain) => {
      const key = domain.toLowerCase();
      const entry = known.get(key);
      if (entry) known.set(key, { ...entry, until: 0 });
    },
  };
};
