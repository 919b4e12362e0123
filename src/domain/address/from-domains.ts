import addressparser from 'nodemailer/lib/addressparser/index.js';
import { domainOf } from './address.js';

/**
 * The domains of the addresses in a From: field (RFC 5322 allows a list), lower case: what
 * signing, sender checks and the per-domain suppression lists all call the sending domain.
 */
export const fromDomains = (fromHeader: string | null): string[] =>
  fromHeader === null
    ? []
    : addressparser(fromHeader, { flatten: true })
        .filter((a) => a.address.includes('@'))
        .map((a) => domainOf(a.address))
        .filter((d) => d !== '');
