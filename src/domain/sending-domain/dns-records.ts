import type { SendingDomainState } from './decider.js';
import type { DkimPublicKey } from './events.js';

export type RecordKind = 'dkim' | 'spf' | 'dmarc' | 'return-path-mx' | 'return-path-spf';

/** A record the operator publishes for a sending domain. */
export interface DnsRecord {
  readonly kind: RecordKind;
  readonly name: string;
  readonly type: 'TXT' | 'MX';
  readonly value: string;
  /** DKIM records: the selector and the generation it belongs to. */
  readonly selector?: string;
  readonly generation?: number;
}

export interface RecordSettings {
  /** Our outbound addresses, for SPF; none known means `a:<hostname>`. */
  readonly egressAddresses: readonly string[];
  /** The host that receives bounces for the return-path domain (the relay's hostname). */
  readonly bounceHost: string;
  /** The return-path domain is `<prefix>.<domain>`. */
  readonly returnPathPrefix: string;
}

export const dkimTxtValue = (key: DkimPublicKey): string =>
  `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${key.publicKey}`;

export const spfValue = (settings: RecordSettings, all: '~all' | '-all'): string => {
  const mechanisms =
    settings.egressAddresses.length > 0
      ? settings.egressAddresses.map((a) => (a.includes(':') ? `ip6:${a}` : `ip4:${a}`))
      : [`a:${settings.bounceHost}`];
  return ['v=spf1', ...mechanisms, all].join(' ');
};

export const returnPathDomain = (domain: string, settings: RecordSettings): string =>
  `${settings.returnPathPrefix}.${domain}`;

/**
 * What to publish: the DKIM key of every generation still in use (pending, signing, or
 * retired but still verifying old mail), an SPF suggestion for our egress addresses, a
 * DMARC suggestion to start with (p=none: watch reports before enforcing), and the
 * return-path domain's MX (bounces come back to us) and SPF (it is the MAIL FROM domain).
 */
export const expectedRecords = (
  state: SendingDomainState,
  settings: RecordSettings,
): DnsRecord[] => {
  if (state.status !== 'added') return [];
  const domain = state.domain;
  const dkim = state.generations
    .filter((g) => g.status !== 'removed')
    .flatMap((g) =>
      g.keys.map(
        (key): DnsRecord => ({
          kind: 'dkim',
          name: `${key.selector}._domainkey.${domain}`,
          type: 'TXT',
          value: dkimTxtValue(key),
          selector: key.selector,
          generation: g.generation,
        }),
      ),
    );
  const returnPath = returnPathDomain(domain, settings);
  return [
    ...dkim,
    { kind: 'spf', name: domain, type: 'TXT', value: spfValue(settings, '~all') },
    {
      kind: 'dmarc',
      name: `_dmarc.${domain}`,
      type: 'TXT',
      value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}; adkim=r; aspf=r`,
    },
    { kind: 'return-path-mx', name: returnPath, type: 'MX', value: `10 ${settings.bounceHost}` },
    { kind: 'return-path-spf', name: returnPath, type: 'TXT', value: spfValue(settings, '-all') },
  ];
};

export type CheckStatus = 'ok' | 'missing' | 'mismatch';

/** `k=v; k=v` tags of a DKIM or DMARC record, keys lower-cased, whitespace dropped in p=. */
export const parseTags = (txt: string): ReadonlyMap<string, string> =>
  new Map(
    txt
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part.includes('='))
      .map((part) => {
        const at = part.indexOf('=');
        const key = part.slice(0, at).trim().toLowerCase();
        const value = part.slice(at + 1).trim();
        return [key, key === 'p' ? value.replace(/\s+/g, '') : value] as const;
      }),
  );

/** A DKIM key record matches when its key type and p= are ours (other tags may differ). */
export const checkDkim = (expected: DnsRecord, found: readonly string[]): CheckStatus => {
  if (found.length === 0) return 'missing';
  const want = parseTags(expected.value);
  const match = found.some((txt) => {
    const tags = parseTags(txt);
    return (
      (tags.get('v') ?? 'DKIM1') === 'DKIM1' &&
      (tags.get('k') ?? 'rsa') === want.get('k') &&
      tags.get('p') === want.get('p')
    );
  });
  return match ? 'ok' : 'mismatch';
};

/** Any DMARC record will do: the policy is the domain owner's choice. */
export const checkDmarc = (found: readonly string[]): CheckStatus => {
  const dmarc = found.filter((txt) => /^v=DMARC1\s*(;|$)/i.test(txt.trim()));
  if (dmarc.length === 0) return found.length === 0 ? 'missing' : 'mismatch';
  return dmarc.length === 1 ? 'ok' : 'mismatch';
};

export const checkMx = (
  expectedHost: string,
  found: ReadonlyArray<{ readonly exchange: string }>,
): CheckStatus => {
  if (found.length === 0) return 'missing';
  const host = expectedHost.toLowerCase().replace(/\.$/, '');
  return found.some((mx) => mx.exchange.toLowerCase().replace(/\.$/, '') === host)
    ? 'ok'
    : 'mismatch';
};

/** The SPF records among a name's TXT records; more than one is itself an error (RFC 7208 §4.5). */
export const spfRecords = (found: readonly string[]): string[] =>
  found.filter((txt) => /^v=spf1(\s|$)/i.test(txt.trim()));
