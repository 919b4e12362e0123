import { z } from 'zod';

/**
 * MTA-STS (RFC 8461): a recipient domain publishes, over HTTPS, which MX hosts may take its
 * mail and that they must do so over TLS with a certificate valid for their name. Senders
 * cache the policy for its max_age, so an attacker who later hides the TXT record or the
 * policy host cannot downgrade the domain.
 */

export const StsModeSchema = z.enum(['enforce', 'testing', 'none']);

/** A policy as fetched, and when: the `mta-sts-<domain>` stream records each one. */
export const MtaStsPolicyFetchedSchema = z.object({
  domain: z.string().min(1),
  /** The TXT record's id the policy was fetched under (RFC 8461 §3.1: 1–32 alphanumerics). */
  id: z.string().min(1).max(32),
  mode: StsModeSchema,
  /** Host names and `*.` patterns, lower case. */
  mx: z.array(z.string().min(1)),
  maxAgeSeconds: z.number().int().min(0).max(31_557_600),
  fetchedAt: z.number().int(),
});
export type StsPolicy = z.infer<typeof MtaStsPolicyFetchedSchema>;
export type MtaStsPolicyFetched = { type: 'MtaStsPolicyFetched'; data: StsPolicy };

/** The policies of recipient domains, as the delivery asks for them. */
export interface MtaStsPolicies {
  /** The policy to apply to mail for this domain now, or null when it has none. */
  policyFor(domain: string): Promise<StsPolicy | null>;
  /**
   * Mail under the domain's policy could not be delivered: look for a new policy before
   * the next attempt (RFC 8461 §5.1), rather than wait for the next scheduled look.
   */
  recheck(domain: string): void;
}

export const mtaStsStream = (domain: string): string => `mta-sts-${domain.toLowerCase()}`;

const bare = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/**
 * RFC 8461 §4.1: a pattern names one host, or with a leading `*.` any host one label
 * below the rest: `*.example.com` matches `mx.example.com`, not `a.mx.example.com` and not
 * `example.com`. Names compare as A-labels, without case or a trailing dot.
 */
export const mxPatternMatches = (pattern: string, host: string): boolean => {
  const p = bare(pattern);
  const h = bare(host);
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
};

/** Whether the policy lets mail go to this MX host. */
export const permitsMx = (policy: StsPolicy, host: string): boolean =>
  policy.mx.some((pattern) => mxPatternMatches(pattern, host));

export const expiresAt = (policy: StsPolicy): number =>
  policy.fetchedAt + policy.maxAgeSeconds * 1000;

/**
 * The `_mta-sts` TXT record (RFC 8461 §3.1): its id, or null when there is no usable
 * record. Records that do not start with `v=STSv1;` are ignored; more than one, or one
 * without a valid id, means no policy is published.
 */
export const policyIdFromTxt = (records: readonly string[]): string | null => {
  const sts = records.filter((r) => /^v=STSv1\s*;/.test(r.trim()));
  if (sts.length !== 1) return null;
  const id = /(?:^|;)\s*id\s*=\s*([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(sts[0] as string);
  return id?.[1] ?? null;
};

/** What the `_mta-sts` TXT lookup said: an id, no usable record, or no answer at all. */
export type TxtAnswer =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'failed' };

export type PolicyStep =
  | { readonly kind: 'use'; readonly policy: StsPolicy }
  | { readonly kind: 'fetch' }
  | { readonly kind: 'none' };

/**
 * What to apply, given the cached policy and the TXT answer (RFC 8461 §3.3, §5.1):
 * - a cached policy within its max_age is applied when the TXT record is gone or cannot be
 *   looked up (§3.3: a lost or forged TXT answer must not switch the policy off), and when
 *   its id is the one published;
 * - past half its max_age it is fetched again, TXT record or not (§3.3: refresh before
 *   expiry), so one in use never lapses, not even while an attacker hides the record;
 * - a new id, an expired policy or none cached means fetching the policy;
 * - no TXT record and nothing live cached: the domain has no policy.
 */
export const policyStep = (
  cached: StsPolicy | undefined,
  txt: TxtAnswer,
  now: number,
): PolicyStep => {
  const live = cached && now < expiresAt(cached) ? cached : undefined;
  if (!live) return txt.kind === 'id' ? { kind: 'fetch' } : { kind: 'none' };
  const fresh = now < live.fetchedAt + (live.maxAgeSeconds * 1000) / 2;
  if (fresh && (txt.kind !== 'id' || txt.id === live.id)) return { kind: 'use', policy: live };
  return { kind: 'fetch' };
};

/** When a fetch fails: a live cached policy still holds (§3.3); otherwise there is none. */
export const afterFailedFetch = (cached: StsPolicy | undefined, now: number): PolicyStep =>
  cached && now < expiresAt(cached) ? { kind: 'use', policy: cached } : { kind: 'none' };
