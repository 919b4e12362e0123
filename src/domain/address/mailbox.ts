import addressparser from 'nodemailer/lib/addressparser/index.js';

/** An address with its display name, as the HTTP APIs take them (`Ann <ann@x.test>`). */
export interface Mailbox {
  readonly address: string;
  readonly name: string | null;
}

// A dot-atom local part and a host name with at least one dot: what the providers accept.
// IP literals, source routes and `%`/`!` routing are refused, so nothing downstream is
// ever asked to interpret them (a quoted local part that needs no quotes is unquoted).
const LOCAL = /^[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const UNICODE = /[^\x00-\x7f]/;

/** Whether an address is one mailtrail will take from an application: see LOCAL above. */
export const isDeliverableAddress = (address: string): boolean => {
  if (address.length > 254 || UNICODE.test(address)) return false;
  const at = address.lastIndexOf('@');
  if (at < 1 || at > 64) return false;
  const local = address.slice(0, at);
  const labels = address.slice(at + 1).split('.');
  return (
    LOCAL.test(local) &&
    labels.length >= 2 &&
    labels.every((l) => LABEL.test(l)) &&
    /[A-Za-z]/.test(labels.at(-1) ?? '')
  );
};

const CONTROL = /[\x00-\x1f\x7f]/;
// `@relay:user@host`: the parser would drop the route silently; say no instead.
const SOURCE_ROUTE = /@[^\s,<>@"]*:/;

/** A header value (or display name) an application may set: no CR, LF or other controls. */
export const isSafeHeaderValue = (value: string): boolean => !/[\r\n\x00]/.test(value);

/** RFC 5322 field names: printable ASCII but the colon. */
export const isHeaderName = (name: string): boolean => /^[\x21-\x39\x3b-\x7e]{1,76}$/.test(name);

export type MailboxListResult =
  | { readonly ok: true; readonly mailboxes: readonly Mailbox[] }
  | { readonly ok: false; readonly invalid: string };

/**
 * `Ann <ann@x.test>, bob@y.test` into mailboxes; the first entry that is not a plain,
 * deliverable address (or that carries a control character) makes the whole list invalid.
 */
export const parseMailboxList = (text: string): MailboxListResult => {
  if (CONTROL.test(text.replace(/\t/g, ' ')) || SOURCE_ROUTE.test(text))
    return { ok: false, invalid: text.replace(/[\x00-\x1f\x7f]/g, ' ') };
  const mailboxes: Mailbox[] = [];
  for (const parsed of addressparser(text, { flatten: true })) {
    if (!isDeliverableAddress(parsed.address))
      return { ok: false, invalid: parsed.address || parsed.name || text };
    mailboxes.push({ address: parsed.address, name: parsed.name || null });
  }
  return { ok: true, mailboxes };
};

/** One mailbox from `{email, name}` (SendGrid's shape). */
export const mailbox = (address: string, name?: string | null): MailboxListResult =>
  isDeliverableAddress(address) && (name == null || isSafeHeaderValue(name))
    ? { ok: true, mailboxes: [{ address, name: name || null }] }
    : { ok: false, invalid: address };
