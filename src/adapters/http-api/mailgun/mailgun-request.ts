import { type Mailbox, parseMailboxList } from '../../../domain/address/mailbox.js';
import { parseHeaderFields } from '../../../domain/message-body/headers.js';
import { normalizeLineEndings } from '../../../domain/message-body/line-endings.js';
import { headerLine } from '../../mime/header-lines.js';
import { customHeaders, DEFAULT_API_OPTIONS, isYes, takeMessageId } from '../api-fields.js';
import type {
  ApiAttachment,
  ApiMessage,
  ApiOptions,
  LinkTracking,
} from '../api-submission-port.js';

/** A form as Mailgun reads it: every field may repeat. */
export type MailgunForm = ReadonlyMap<string, readonly string[]>;

export interface MailgunFile {
  readonly field: string;
  readonly filename: string;
  readonly contentType: string | null;
  readonly content: Buffer;
}

export type MailgunParse =
  | { readonly ok: true; readonly messages: readonly ApiMessage[] }
  | { readonly ok: false; readonly status: 400 | 413; readonly message: string };

const MAX_RECIPIENTS = 1000;
const MAX_TAGS = 3;
const MAX_OPTIONS_BYTES = 16 * 1024;
const MAX_SCHEDULE_MS = 3 * 24 * 3600_000;

const bad = (message: string): MailgunParse => ({ ok: false, status: 400, message });

const first = (form: MailgunForm, name: string): string | undefined => form.get(name)?.[0];

/**
 * The custom header fields (`h:Name`), by their names; a name may come in any case.
 * Mailgun's IP pool header picks one of our egress pools.
 */
const headerFields = (form: MailgunForm): Array<readonly [string, string]> =>
  [...form.entries()]
    .filter(([name]) => name.startsWith('h:'))
    .flatMap(([name, values]) => values.map((v) => [name.slice(2), v] as const))
    .map(([name, v]) =>
      name.toLowerCase() === 'x-mailgun-sending-ip-pool'
        ? (['X-Mailtrail-Pool', v] as const)
        : ([name, v] as const),
    );

/** Every value of a repeated, comma-separated address field, or the field that failed. */
const mailboxes = (
  form: MailgunForm,
  name: string,
  values: readonly string[] = form.get(name) ?? [],
): { ok: true; list: Mailbox[] } | { ok: false; message: string } => {
  const list: Mailbox[] = [];
  for (const value of values) {
    if (value.trim() === '') continue;
    const parsed = parseMailboxList(value);
    if (!parsed.ok)
      return {
        ok: false,
        message: `${name} parameter is not a valid address. please check documentation`,
      };
    list.push(...parsed.mailboxes);
  }
  return { ok: true, list };
};

const RFC2822 =
  /^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|GMT|UTC?|[ECMP][SD]T)?$/;

const ZONE = /(?:[+-]\d{4}|GMT|UTC?|[ECMP][SD]T)$/;

/**
 * `o:deliverytime`: an RFC 2822 date or Unix seconds. A date without its zone is read as
 * UTC, whatever the server's own zone is.
 */
export const deliveryTime = (value: string): number | null => {
  const v = value.trim();
  if (/^\d{1,12}$/.test(v)) return Number(v) * 1000;
  if (!RFC2822.test(v)) return null;
  const at = Date.parse(ZONE.test(v) ? v : `${v} +0000`);
  return Number.isNaN(at) ? null : at;
};

/** `yes`/`no`/`true`/`false`/`htmlonly`; undefined when the field is absent. */
const toggle = (value: string | undefined): boolean | undefined =>
  value === undefined ? undefined : /^(yes|true|htmlonly)$/i.test(value.trim());

/** `o:tracking-clicks`: yes/true rewrites the links of both parts, `htmlonly` the HTML's. */
const linkToggle = (value: string | undefined): LinkTracking | undefined => {
  if (value === undefined) return undefined;
  if (/^htmlonly$/i.test(value.trim())) return { html: true, text: false };
  const on = toggle(value) === true;
  return { html: on, text: on };
};

/** A recipient variable as text: strings as they are, anything else as its JSON. */
const textOf = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? '');

const substitute = (text: string | null, vars: Readonly<Record<string, unknown>>): string | null =>
  text === null
    ? null
    : text.replace(/%recipient\.([A-Za-z0-9_.-]+)%/g, (whole, key: string) =>
        Object.hasOwn(vars, key) ? textOf(vars[key]) : whole,
      );

/**
 * A Mailgun `/messages` form as the messages it asks for: one, or with
 * `recipient-variables` one per `to` address with its `%recipient.KEY%` values filled in.
 * Error texts are Mailgun's own where we know them.
 */
export const parseMailgunMessages = (
  form: MailgunForm,
  files: readonly MailgunFile[],
  context: { readonly domain: string; readonly batchId: string; readonly now: number },
): MailgunParse => {
  const fromValue = first(form, 'from');
  if (!fromValue) return bad('from parameter is missing');
  const from = parseMailboxList(fromValue);
  if (!from.ok || from.mailboxes.length !== 1)
    return bad('from parameter is not a valid address. please check documentation');
  if (!(form.get('to') ?? []).some((v) => v.trim() !== '')) return bad('to parameter is missing');
  const to = mailboxes(form, 'to');
  if (!to.ok) return bad(to.message);
  const cc = mailboxes(form, 'cc');
  if (!cc.ok) return bad(cc.message);
  const bcc = mailboxes(form, 'bcc');
  if (!bcc.ok) return bad(bcc.message);
  const custom = headerFields(form);
  const isReplyTo = ([name]: readonly [string, string]) => name.toLowerCase() === 'reply-to';
  const replyTo = mailboxes(
    form,
    'h:Reply-To',
    custom.filter(isReplyTo).map(([, v]) => v),
  );
  if (!replyTo.ok) return bad(replyTo.message);
  if (to.list.length + cc.list.length + bcc.list.length > MAX_RECIPIENTS)
    return bad(`Too many recipients, max is ${MAX_RECIPIENTS}`);
  if (form.has('template'))
    return bad('template parameter is not supported by this server; send text or html');
  const text = first(form, 'text') ?? null;
  const html = first(form, 'html') ?? null;
  const ampHtml = first(form, 'amp-html') ?? null;
  if (!text && !html) return bad("Need at least one of 'text' or 'html' parameters specified");

  const options = mailgunOptions(form, context.now);
  if (!options.ok) return options;
  const headers = customHeaders(custom.filter((field) => !isReplyTo(field)));
  if (!headers.ok) return bad(headers.message);
  const own = takeMessageId(headers.headers);
  const attachments: ApiAttachment[] = files
    .filter((f) => f.field === 'attachment' || f.field === 'inline')
    .map((f) => ({
      filename: f.filename,
      contentType: f.contentType,
      content: f.content,
      // An inline part's filename is the name its HTML refers to: cid:<filename>.
      contentId: f.field === 'inline' ? f.filename : null,
    }));

  const base = {
    kind: 'fields' as const,
    from: from.mailboxes[0] as Mailbox,
    cc: cc.list,
    bcc: bcc.list,
    replyTo: replyTo.list,
    subject: first(form, 'subject') ?? null,
    text,
    html,
    ampHtml,
    headers: own.headers,
    attachments,
    // One id for the whole request: Mailgun answers with it, and every message carries it.
    messageIdHeader: own.messageId ?? `<${context.batchId}@${context.domain}>`,
    ...options.options,
  };
  const variablesText = first(form, 'recipient-variables');
  if (variablesText === undefined) return { ok: true, messages: [{ ...base, to: to.list }] };

  let variables: unknown;
  try {
    variables = JSON.parse(variablesText);
  } catch {
    return bad("'recipient-variables' parameter is not a valid JSON");
  }
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables))
    return bad("'recipient-variables' parameter is not a valid JSON");
  // Batch mode sends each To address its own copy; a Cc or Bcc would get them all.
  if (cc.list.length > 0 || bcc.list.length > 0)
    return bad('cc and bcc cannot be used with recipient-variables (batch sending)');
  const byAddress = new Map(
    Object.entries(variables as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
  );
  return {
    ok: true,
    messages: to.list.map((recipient) => {
      const found = byAddress.get(recipient.address.toLowerCase());
      const vars =
        typeof found === 'object' && found !== null ? (found as Record<string, unknown>) : {};
      return {
        ...base,
        to: [recipient],
        subject: substitute(base.subject, vars),
        text: substitute(base.text, vars),
        html: substitute(base.html, vars),
        ampHtml: substitute(base.ampHtml, vars),
        metadata: Object.fromEntries(
          Object.entries(base.metadata).map(([k, v]) => [k, substitute(v, vars) ?? '']),
        ),
      };
    }),
  };
};

/** The `o:` and `v:` options, shared by `/messages` and `/messages.mime`. */
export const mailgunOptions = (
  form: MailgunForm,
  now: number,
): { ok: true; options: ApiOptions } | { ok: false; status: 400; message: string } => {
  let optionBytes = 0;
  for (const [name, values] of form)
    if (/^[ohv]:/.test(name))
      for (const v of values) optionBytes += Buffer.byteLength(name) + Buffer.byteLength(v);
  if (optionBytes > MAX_OPTIONS_BYTES)
    return {
      ok: false,
      status: 400,
      message: 'Send options (parameters starting with o:, h:, or v:) are limited to 16 kB total',
    };
  const tags = (form.get('o:tag') ?? []).filter((t) => t !== '');
  if (tags.length > MAX_TAGS)
    return { ok: false, status: 400, message: `Too many tags: at most ${MAX_TAGS} per message` };
  const badTag = tags.find((t) => t.length > 128 || /[^\x20-\x7e]/.test(t));
  if (badTag !== undefined)
    return {
      ok: false,
      status: 400,
      message: `tag '${badTag}' must be ASCII, at most 128 characters`,
    };
  let sendAt: number | null = null;
  const when = first(form, 'o:deliverytime');
  if (when !== undefined) {
    sendAt = deliveryTime(when);
    if (sendAt === null)
      return { ok: false, status: 400, message: `${when} is not an RFC-2822 compliant date` };
    if (sendAt - now > MAX_SCHEDULE_MS)
      return {
        ok: false,
        status: 400,
        message: "'o:deliverytime' can't be more than 3 days in the future",
      };
  }
  const tracking = toggle(first(form, 'o:tracking'));
  const metadata = Object.fromEntries(
    [...form.entries()]
      .filter(([name]) => name.startsWith('v:'))
      .map(([name, values]) => [name.slice(2), values[0] ?? '']),
  );
  return {
    ok: true,
    options: {
      ...DEFAULT_API_OPTIONS,
      tags: tags.map((t) => t.toLowerCase()),
      metadata,
      sendAt,
      testMode: isYes(first(form, 'o:testmode')),
      requireTls: isYes(first(form, 'o:require-tls')),
      skipTlsVerification: isYes(first(form, 'o:skip-verification')),
      trackOpens: toggle(first(form, 'o:tracking-opens')) ?? tracking ?? null,
      trackLinks:
        linkToggle(first(form, 'o:tracking-clicks')) ??
        (tracking === undefined ? null : { html: tracking, text: tracking }),
    },
  };
};

// RFC 5322 §3.6: fields a message has at most once (beyond those customHeaders refuses).
const ONCE = new Set(['date', 'reply-to', 'message-id', 'in-reply-to', 'references']);

/**
 * A `/messages.mime` form: the client's MIME and the envelope's recipients. Its `h:` fields
 * are added at the top of the client's header section, as Mailgun adds them; a non-ASCII
 * value is encoded (RFC 2047) as `/messages` would.
 */
export const parseMailgunMime = (
  form: MailgunForm,
  files: readonly MailgunFile[],
  context: { readonly now: number },
): MailgunParse => {
  if (!(form.get('to') ?? []).some((v) => v.trim() !== '')) return bad('to parameter is missing');
  const to = mailboxes(form, 'to');
  if (!to.ok) return bad(to.message);
  if (to.list.length > MAX_RECIPIENTS) return bad(`Too many recipients, max is ${MAX_RECIPIENTS}`);
  const mime = files.find((f) => f.field === 'message')?.content ?? null;
  if (!mime || mime.length === 0) return bad('message parameter is missing');
  const options = mailgunOptions(form, context.now);
  if (!options.ok) return options;
  const headers = customHeaders(headerFields(form));
  if (!headers.ok) return bad(headers.message);
  // Read with CRLF line ends, as acceptance will make them: a client may send bare LFs.
  const fields = parseHeaderFields(Buffer.from(normalizeLineEndings(mime)));
  const present = new Set(fields.map(([name]) => name.toLowerCase()));
  const twice = headers.headers.find(
    ([name]) => ONCE.has(name.toLowerCase()) && present.has(name.toLowerCase()),
  );
  if (twice) return bad(`h:${twice[0]}: the message already has a ${twice[0]} field`);
  const lines: string[] = [];
  for (const [name, value] of headers.headers) {
    const line = headerLine(name, value);
    if (line === null) return bad(`h:${name} is too long for one header line`);
    lines.push(line);
  }
  const added =
    lines.length === 0 ? mime : Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`), mime]);
  return { ok: true, messages: [{ kind: 'mime', mime: added, to: to.list, ...options.options }] };
};
