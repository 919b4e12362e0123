import addressparser from 'nodemailer/lib/addressparser/index.js';
import { domainOf } from './address.js';

const parse = (fromHeader: string): readonly string[] =>
  Object.freeze(
    addressparser(fromHeader, { flatten: true })
      .filter((a) => a.address.includes('@'))
      .map((a) => domainOf(a.address))
      .filter((d) => d !== ''),
  );

// Acceptance and two projections read the From: of every message, and a sender uses the
// same few From: values for all its mail: each is parsed once. A bound, not an LRU.
const MAX_REMEMBERED = 10_000;
const parsed = new Map<string, readonly string[]>();

/**
 * The domains of the addresses in a From: field (RFC 5322 allows a list), lower case: what
 * signing, sender checks and the per-domain suppression lists all call the sending domain.
 */
export const fromDomains = (fromHeader: string | null): readonly string[] => {
  if (fromHeader === null) return [];
  const known = parsed.get(fromHeader);
  if (known) return known;
  if (parsed.size >= MAX_REMEMBERED) parsed.clear();
  const domains = parse(fromHeader);
  parsed.set(fromHeader, domains);
  return domains;
};
