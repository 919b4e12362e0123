import { isHeaderName, isSafeHeaderValue } from '../../domain/address/mailbox.js';
import type { ApiOptions } from './api-submission-port.js';

export const DEFAULT_API_OPTIONS: ApiOptions = {
  tags: [],
  metadata: {},
  sendAt: null,
  testMode: false,
  requireTls: false,
  skipTlsVerification: false,
  trackOpens: null,
  trackLinks: null,
  stream: null,
};

/**
 * Header fields an application may not set through `h:`, `headers` or `Headers`: the ones
 * the API's own fields set, and the trace and signature fields only the relay writes.
 */
const RESERVED = new Set(
  [
    'from',
    'to',
    'cc',
    'bcc',
    'subject',
    'sender',
    'content-type',
    'content-transfer-encoding',
    'mime-version',
    'received',
    'return-path',
    'dkim-signature',
    'arc-seal',
    'arc-message-signature',
    'arc-authentication-results',
    'authentication-results',
  ].map((n) => n.toLowerCase()),
);

export type HeadersResult =
  | { readonly ok: true; readonly headers: ReadonlyArray<readonly [string, string]> }
  | { readonly ok: false; readonly message: string };

/** Custom header fields, checked: a real field name, no CR or LF, nothing reserved. */
export const customHeaders = (pairs: ReadonlyArray<readonly [string, string]>): HeadersResult => {
  for (const [name, value] of pairs) {
    if (!isHeaderName(name)) return { ok: false, message: `'${name}' is not a header name` };
    if (!isSafeHeaderValue(value))
      return { ok: false, message: `header '${name}' has a CR or LF in its value` };
    if (RESERVED.has(name.toLowerCase()))
      return { ok: false, message: `header '${name}' cannot be set this way` };
  }
  return { ok: true, headers: pairs };
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /\s+/g;

/**
 * Whether an attachment's content is base64, which may be broken into lines (MIME style).
 * The whitespace goes first: one pattern that allowed it both inside and after the
 * padding took time in the square of the length to refuse a long run of blanks, and a
 * request of a megabyte held the event loop for minutes.
 */
export const isBase64 = (text: string): boolean => BASE64.test(text.replace(WHITESPACE, ''));

/** Mailgun-style booleans: `yes`, `true` (any case); everything else is no. */
export const isYes = (value: string | undefined): boolean =>
  value !== undefined && /^(yes|true)$/i.test(value.trim());

/**
 * A Message-ID among the custom headers becomes the message's own (composition writes
 * exactly one); the rest stay as they are.
 */
export const takeMessageId = (
  headers: ReadonlyArray<readonly [string, string]>,
): {
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly messageId: string | null;
} => {
  const own = headers.find(([n]) => n.toLowerCase() === 'message-id')?.[1] ?? null;
  if (own === null) return { headers, messageId: null };
  const id = own.trim();
  // A Message-ID the composer could not use is no Message-ID: the relay gives its own.
  if (!/^<?[^<>\s@]+@[^<>\s@]+>?$/.test(id))
    return { headers: headers.filter(([n]) => n.toLowerCase() !== 'message-id'), messageId: null };
  return {
    headers: headers.filter(([n]) => n.toLowerCase() !== 'message-id'),
    messageId: id.startsWith('<') ? id : `<${id}>`,
  };
};
