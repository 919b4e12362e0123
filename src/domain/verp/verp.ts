import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * VERP return paths: `b+<message id>.<recipient index>.<mac>@<return-path domain>`, one per
 * recipient, so a bounce or complaint that comes back names its message and recipient. The
 * mac (the first 64 bits of an HMAC-SHA256 over id and index, hex) makes a forged or
 * mistyped token fail. All lower case: some receivers fold the case of what they return.
 */
export const VERP_PREFIX = 'b+';

export interface VerpTarget {
  /** The message id as we issue it (a ULID, upper case). */
  readonly messageId: string;
  /** The recipient's place in the message's envelope. */
  readonly recipientIndex: number;
}

const mac = (key: Uint8Array, target: VerpTarget): string =>
  createHmac('sha256', key)
    .update(`${target.messageId.toUpperCase()}.${target.recipientIndex}`)
    .digest('hex')
    .slice(0, 16);

/**
 * A token naming a message's recipient: `<message id>.<recipient index>.<mac>`, lower case.
 * VERP return paths carry it after `b+`; unsubscribe links carry it under their own key.
 */
export const targetToken = (key: Uint8Array, target: VerpTarget): string =>
  `${target.messageId.toLowerCase()}.${target.recipientIndex.toString(36)}.${mac(key, target)}`;

export const verpLocalPart = (key: Uint8Array, target: VerpTarget): string =>
  `${VERP_PREFIX}${targetToken(key, target)}`;

export type VerpParse =
  | { readonly ok: true; readonly target: VerpTarget }
  | { readonly ok: false; readonly code: 'NotVerp' | 'Malformed' | 'Forged' };

const TOKEN = /^([0-9a-z]{26})\.([0-9a-z]{1,4})\.([0-9a-f]{16})$/;

/** Reads a token back; `Forged` when the mac does not match. */
export const parseTargetToken = (key: Uint8Array, token: string): VerpParse => {
  const m = TOKEN.exec(token.toLowerCase());
  if (!m) return { ok: false, code: 'Malformed' };
  const target = {
    messageId: (m[1] as string).toUpperCase(),
    recipientIndex: Number.parseInt(m[2] as string, 36),
  };
  const expected = Buffer.from(mac(key, target), 'latin1');
  const given = Buffer.from(m[3] as string, 'latin1');
  return timingSafeEqual(expected, given) ? { ok: true, target } : { ok: false, code: 'Forged' };
};

/** Reads a return path's local part back; `NotVerp` when it is not one of ours. */
export const parseVerpLocalPart = (key: Uint8Array, localPart: string): VerpParse =>
  localPart.toLowerCase().startsWith(VERP_PREFIX)
    ? parseTargetToken(key, localPart.slice(VERP_PREFIX.length))
    : { ok: false, code: 'NotVerp' };

/** A key for another purpose (unsubscribe links) derived from the VERP key. */
export const derivedKey = (key: Uint8Array, purpose: string): Buffer =>
  createHmac('sha256', key).update(`mailtrail ${purpose}`).digest();
