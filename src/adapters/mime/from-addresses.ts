import addressparser from 'nodemailer/lib/addressparser/index.js';
import { domainOf } from '../../domain/address/address.js';

/** The domains of the addresses in a From: field (RFC 5322 allows a list), lower case. */
export const fromDomains = (fromHeader: string | null): string[] =>
  fromHeader === null
    ? []
    : addressparser(fromHeader, { flatten: true })
        .filter((a) => a.address.includes('@'))
        .map((a) => domainOf(a.address))
        .filter((d) => d !== '');
