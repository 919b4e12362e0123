import { domainToASCII } from 'node:url';

/** The domain of an address, lower-cased: what delivery groups recipients by. */
export const domainOf = (address: string): string =>
  address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The local part, as given (local parts are case-sensitive in principle). */
export const localPartOf = (address: string): string => address.slice(0, address.lastIndexOf('@'));

/** `user@[192.0.2.1]`, `user@[IPv6:::1]`: a host named by address, not by domain. */
export const isAddressLiteral = (address: string): boolean =>
  address.slice(address.lastIndexOf('@') + 1).startsWith('[');

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The address as a server without SMTPUTF8 can take it: its domain as an A-label (RFC
 * 5891). Null when its local part is beyond ASCII, which only SMTPUTF8 carries (RFC 6531).
 */
export const asciiAddress = (address: string): string | null => {
  const at = address.lastIndexOf('@');
  if (!ASCII.test(address.slice(0, Math.max(at, 0)))) return null;
  const domain = address.slice(at + 1);
  if (at < 0 || ASCII.test(domain)) return address;
  const aLabel = domainToASCII(domain);
  return aLabel ? `${address.slice(0, at)}@${aLabel}` : null;
};
