import { createHash, randomBytes } from 'node:crypto';

/**
 * `mt_` and 32 random base64url characters (192 bits). The prefix lets secret scanners
 * and operators recognise a mailtrail key; the SDKs take any string.
 */
export const generateApiKey = (): string => `mt_${randomBytes(24).toString('base64url')}`;

/** What is stored and looked up: SHA-256, hex. The key's entropy makes a slow hash moot. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');
