import { getDomain } from 'tldts';

/**
 * The organizational domain (RFC 7489 §3.2, from the Public Suffix List): mail.shop.example.co.uk
 * → example.co.uk. A name that is itself a public suffix has none and maps to itself.
 */
export const organizationalDomain = (domain: string): string =>
  getDomain(domain, { allowPrivateDomains: true }) ?? domain;
