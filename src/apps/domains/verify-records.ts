import type { Resolver } from 'node:dns/promises';
import { orNone } from '../../adapters/dns/resolver.js';
import {
  type CheckStatus,
  checkDkim,
  checkDmarc,
  checkMx,
  type DnsRecord,
  spfRecords,
} from '../../domain/sending-domain/dns-records.js';

export interface RecordCheck {
  readonly record: DnsRecord;
  readonly status: CheckStatus;
  /** What DNS holds at that name, for the operator to compare with `record.value`. */
  readonly found: readonly string[];
  readonly note?: string;
}

const txt = async (resolver: Resolver, name: string): Promise<string[]> =>
  (await orNone(resolver.resolveTxt(name))).map((chunks) => chunks.join(''));

/**
 * Is an SPF record there, and does it let each of our addresses send? Evaluated with
 * mailauth's SPF checker, so include:, a:, mx: and redirect= count as the receivers count them.
 */
const checkSpf = async (
  resolver: Resolver,
  record: DnsRecord,
  found: readonly string[],
  addresses: readonly string[],
): Promise<Pick<RecordCheck, 'status' | 'note'>> => {
  const records = spfRecords(found);
  if (records.length === 0) return { status: 'missing' };
  if (records.length > 1)
    return { status: 'mismatch', note: 'more than one SPF record (permerror)' };
  if (addresses.length === 0)
    return { status: 'ok', note: 'no egress addresses configured to test' };
  // mailauth's entry point loads its BIMI/VMC stack (about 0.2 s): only when a check runs.
  const { spf } = await import('mailauth');
  const failing: string[] = [];
  for (const ip of addresses) {
    const result = await spf({
      sender: `postmaster@${record.name}`,
      ip,
      helo: record.name,
      resolver: (name, type) => resolver.resolve(name, type) as Promise<string[][] | string[]>,
    });
    if (result.status.result !== 'pass') failing.push(`${ip}: ${result.status.result}`);
  }
  return failing.length === 0
    ? { status: 'ok' }
    : { status: 'mismatch', note: `does not pass for ${failing.join(', ')}` };
};

/** Looks every expected record up through the configured resolver and compares. */
export const verifyRecords = async (
  resolver: Resolver,
  records: readonly DnsRecord[],
  egressAddresses: readonly string[],
): Promise<RecordCheck[]> =>
  Promise.all(
    records.map(async (record): Promise<RecordCheck> => {
      if (record.type === 'MX') {
        const mx = await orNone(resolver.resolveMx(record.name));
        const host = record.value.split(/\s+/).pop() ?? '';
        return {
          record,
          status: checkMx(host, mx),
          found: mx.map((m) => `${m.priority} ${m.exchange}`),
        };
      }
      const found = await txt(resolver, record.name);
      switch (record.kind) {
        case 'dkim':
          return { record, status: checkDkim(record, found), found };
        case 'dmarc':
          return { record, status: checkDmarc(found), found };
        default:
          return { record, found, ...(await checkSpf(resolver, record, found, egressAddresses)) };
      }
    }),
  );
