/** The domain of an address, lower-cased: what delivery groups recipients by. */
export const domainOf = (address: string): string =>
  address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The local part, as given (local parts are case-sensitive in principle). */
export const localPartOf = (address: string): string => address.slice(0, address.lastIndexOf('@'));

/** `user@[192.0.2.1]`, `user@[IPv6:::1]`: a host named by address, not by domain. */
export const isAddressLiteral = (address: string): boolean =>
  address.slice(address.lastIndexOf('@') + 1).startsWith('[');
