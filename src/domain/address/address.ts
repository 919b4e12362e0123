/** The domain of an address, lower-cased: what delivery groups recipients by. */
export const domainOf = (address: string): string =>
  address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The local part, as given (local parts are case-sensitive in principle). */
export const localPartOf = (address: string): string => address.slice(0, address.lastIndexOf('@'));
