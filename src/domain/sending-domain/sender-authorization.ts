import { isSameOrSubdomain } from './domain-name.js';

/**
 * A credential sends only for its own domains and their subdomains: `domain` (from MAIL
 * FROM or From:) must be one of `allowed` or below one of them.
 */
export const isAuthorizedSender = (domain: string, allowed: readonly string[]): boolean =>
  domain !== '' && allowed.some((parent) => isSameOrSubdomain(domain, parent));
