import { createHash } from 'node:crypto';
import type { MessageSummary, Notification } from '../webhook/notification.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * One notification's event id: the same on every retry and replay (so receivers can drop
 * duplicates), different for every recipient of every event. 22 base64url characters, the
 * length of Mailgun's own ids and well inside SendGrid's "up to 100 URL-safe characters".
 */
export const notificationEventId = (notification: Notification): string =>
  sha256(`${notification.message.messageId}\n${notification.position}\n${notification.recipient}`)
    .subarray(0, 16)
    .toString('base64url');

/**
 * A positive 31-bit number standing for a name where a provider has a numeric id we have no
 * counterpart for (Postmark's ServerID, a SendGrid IP pool's id): stable across restarts and
 * nodes that share the name, so receivers that key on it keep working.
 */
export const stableNumber = (name: string): number => sha256(name).readUInt32BE(0) >>> 1 || 1;

/**
 * The Message-ID header with its angle brackets; a message that had none (it is always set at
 * acceptance, but older events may lack it) gets one made of its id and the relay's name.
 */
export const messageIdHeaderOf = (message: MessageSummary, hostname: string): string =>
  message.messageIdHeader ?? `<${message.messageId}@${hostname}>`;

/** The domain part of an address, as Mailgun's `recipient-domain` gives it. */
export const domainOf = (address: string): string =>
  address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The bare address in a From header (`Ann <ann@example.com>` -> `ann@example.com`). */
export const bareAddress = (header: string): string =>
  (/<([^<>]*)>\s*$/.exec(header)?.[1] ?? header).trim();
