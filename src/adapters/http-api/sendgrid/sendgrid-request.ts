import { z } from 'zod';
import { isSafeHeaderValue, type Mailbox, mailbox } from '../../../domain/address/mailbox.js';
import { customHeaders, DEFAULT_API_OPTIONS, isBase64, takeMessageId } from '../api-fields.js';
import type { ApiAttachment, ApiMessage, LinkTracking } from '../api-submission-port.js';

/** One entry of SendGrid's `errors` array. */
export interface SendGridError {
  readonly message: string;
  readonly field: string | null;
  readonly help: string | null;
}

export type SendGridParse =
  | { readonly ok: true; readonly messages: readonly ApiMessage[]; readonly sandbox: boolean }
  | { readonly ok: false; readonly errors: readonly SendGridError[] };

const MAX_PERSONALIZATIONS = 1000;
const MAX_RECIPIENTS = 1000;
const MAX_SCHEDULE_MS = 72 * 3600_000;

const email = z.object({ email: z.string(), name: z.string().optional() });
const strings = z.record(z.string(), z.string());
const enable = z.object({ enable: z.boolean().optional() }).passthrough();

const personalization = z.object({
  to: z.array(email).min(1),
  cc: z.array(email).optional(),
  bcc: z.array(email).optional(),
  from: email.optional(),
  subject: z.string().optional(),
  headers: strings.optional(),
  substitutions: strings.optional(),
  dynamic_template_data: z.unknown().optional(),
  custom_args: strings.optional(),
  send_at: z.number().int().nonnegative().optional(),
});

/** The Mail Send v3 body (the fields mailtrail reads; others are accepted and ignored). */
const mailSend = z.object({
  personalizations: z.array(personalization).min(1).max(MAX_PERSONALIZATIONS),
  from: email,
  reply_to: email.optional(),
  reply_to_list: z.array(email).optional(),
  subject: z.string().min(1).optional(),
  content: z.array(z.object({ type: z.string().min(1), value: z.string().min(1) })).optional(),
  attachments: z
    .array(
      z.object({
        content: z.string().min(1),
        filename: z.string(),
        type: z.string().optional(),
        disposition: z.enum(['attachment', 'inline']).optional(),
        content_id: z.string().optional(),
      }),
    )
    .optional(),
  template_id: z.string().optional(),
  headers: strings.optional(),
  categories: z.array(z.string().max(255)).max(10).optional(),
  custom_args: strings.optional(),
  send_at: z.number().int().nonnegative().optional(),
  batch_id: z.string().optional(),
  ip_pool_name: z.string().min(2).max(64).optional(),
  mail_settings: z.object({ sandbox_mode: enable.optional() }).passthrough().optional(),
  tracking_settings: z
    .object({
      click_tracking: enable.extend({ enable_text: z.boolean().optional() }).optional(),
      open_tracking: enable.optional(),
    })
    .passthrough()
    .optional(),
});

type MailSend = z.infer<typeof mailSend>;

/**
 * `click_tracking`: `enable` rewrites the HTML's links, and the text's too with
 * `enable_text`. SendGrid's account setting decides when `enable_text` is left out; here it
 * is off, as rewriting what a reader sees in plain text should be asked for.
 */
const linkTracking = (
  click: { readonly enable?: boolean; readonly enable_text?: boolean } | undefined,
): LinkTracking | null =>
  click?.enable === undefined
    ? null
    : { html: click.enable, text: click.enable && click.enable_text === true };

const error = (message: string, field: string | null = null): SendGridError => ({
  message,
  field,
  help: null,
});

const fail = (...errors: SendGridError[]): SendGridParse => ({ ok: false, errors });

const SPECIAL = /[.*+?^${}()|[\]\\]/g;

/**
 * A personalization's substitutions, applied in one pass: each key found is replaced by its
 * value, the longest key first where several start at the same place, and a value put in
 * is never searched again (so `{"-a-": "-b-", "-b-": "x"}` does not chain, whatever the
 * keys' order).
 */
const substitutions = (pairs: Readonly<Record<string, string>>) => {
  const keys = Object.keys(pairs)
    .filter((key) => key !== '')
    .sort((a, b) => b.length - a.length);
  if (keys.length === 0) return (text: string): string => text;
  const pattern = new RegExp(keys.map((key) => key.replace(SPECIAL, '\\$&')).join('|'), 'g');
  return (text: string): string => text.replace(pattern, (key) => pairs[key] ?? key);
};

const CONTENT_TYPES = ['text/plain', 'text/html', 'text/x-amp-html'] as const;
type ContentType = (typeof CONTENT_TYPES)[number];

/**
 * `content` read by SendGrid's rules: a type is a bare media type (no `;` parameters, no
 * CR or LF), text/plain and text/html at most once each, text/plain first and text/html
 * next. Media types compare without regard to case (RFC 2045). Of the other types only
 * AMP's is taken: anything else is refused by name rather than dropped, so no message
 * goes out without the body its sender wrote.
 */
const readContent = (
  content: ReadonlyArray<{ readonly type: string; readonly value: string }>,
): Partial<Record<ContentType, string>> | SendGridError => {
  const found: Partial<Record<ContentType, string>> = {};
  const types: string[] = [];
  for (const [i, c] of content.entries()) {
    if (/[;\r\n]/.test(c.type))
      return error(
        "The content type cannot contain ';', carriage returns, or newlines",
        `content.${i}.type`,
      );
    const type = c.type.trim().toLowerCase();
    if (!(CONTENT_TYPES as readonly string[]).includes(type))
      return error(
        `Content of type ${type} is not supported by this server: send text/plain, text/html or text/x-amp-html`,
        `content.${i}.type`,
      );
    if (found[type as ContentType] !== undefined)
      return error(
        type === 'text/x-amp-html'
          ? 'If present, text/x-amp-html may only be provided once.'
          : 'If present, text/plain and text/html may only be provided once.',
        'content',
      );
    found[type as ContentType] = c.value;
    types.push(type);
  }
  const plain = types.indexOf('text/plain');
  const html = types.indexOf('text/html');
  if (plain > 0 || (html >= 0 && html !== (plain === 0 ? 1 : 0)))
    return error(
      'If present, text/plain must be first, followed by text/html, followed by any other content.',
      'content',
    );
  return found;
};

/**
 * A Mail Send v3 body as the messages it asks for, one per personalization, with its
 * substitutions, headers and custom args applied over the message's own. Errors come in
 * SendGrid's `{message, field, help}` shape, with the field path SendGrid uses.
 */
export const parseSendGridMail = (body: unknown, now: number): SendGridParse => {
  const parsed = mailSend.safeParse(body);
  if (!parsed.success)
    return fail(
      // Again with each issue's input, to tell a field of the wrong type from a missing one.
      // Only here: asking for the input costs every parse about half its time.
      ...(mailSend.safeParse(body, { reportInput: true }).error?.issues ?? [])
        .slice(0, 10)
        .map((issue) => {
          const field = issue.path.join('.') || null;
          if (issue.path[0] === 'personalizations' && issue.code === 'too_big')
            return error(
              `The personalizations field may not have more than ${MAX_PERSONALIZATIONS} items`,
              'personalizations',
            );
          return error(
            issue.code === 'invalid_type' && issue.input === undefined
              ? `The ${field} field is required.`
              : `${field ?? 'body'}: ${issue.message}`,
            field,
          );
        }),
    );
  const m: MailSend = parsed.data;
  if (m.template_id)
    return fail(error('Templates are not supported by this server: send content', 'template_id'));
  if (m.reply_to && m.reply_to_list)
    return fail(
      error('The reply_to and reply_to_list fields cannot both be set: use one.', 'reply_to_list'),
    );
  const content = m.content ?? [];
  if (content.length === 0)
    return fail(
      error(
        'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.',
        'content',
      ),
    );
  if (!m.subject && m.personalizations.some((p) => !p.subject))
    return fail(
      error(
        'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.',
        'subject',
      ),
    );
  const total = m.personalizations.reduce(
    (n, p) => n + p.to.length + (p.cc?.length ?? 0) + (p.bcc?.length ?? 0),
    0,
  );
  if (total > MAX_RECIPIENTS)
    return fail(
      error(
        `The total number of recipients must be no more than ${MAX_RECIPIENTS}.`,
        'personalizations',
      ),
    );

  const one = (value: { email: string; name?: string | undefined }, field: string) => {
    const parsedBox = mailbox(value.email, value.name ?? null);
    if (parsedBox.ok) return parsedBox.mailboxes[0] as Mailbox;
    return isSafeHeaderValue(value.name ?? '')
      ? error('Does not contain a valid address.', field)
      : error('The name may not contain CR or LF.', field.replace(/email$/, 'name'));
  };
  const isError = <T extends object>(v: T | SendGridError): v is SendGridError =>
    'field' in v && 'help' in v;
  const bodies = readContent(content);
  if (isError(bodies)) return fail(bodies);
  const from = one(m.from, 'from.email');
  if (isError(from)) return fail(from);
  const replyTo: Mailbox[] = [];
  for (const [i, r] of [
    ...(m.reply_to ? [m.reply_to] : []),
    ...(m.reply_to_list ?? []),
  ].entries()) {
    const box = one(r, m.reply_to ? 'reply_to.email' : `reply_to_list.${i}.email`);
    if (isError(box)) return fail(box);
    replyTo.push(box);
  }

  const attachments: ApiAttachment[] = [];
  for (const [i, a] of (m.attachments ?? []).entries()) {
    if (!isBase64(a.content))
      return fail(
        error('The attachment content must be base64 encoded.', `attachments.${i}.content`),
      );
    if (a.disposition === 'inline' && !a.content_id)
      return fail(
        error(
          'The content_id parameter is required for inline attachments.',
          `attachments.${i}.content_id`,
        ),
      );
    if (!isSafeHeaderValue(`${a.filename}${a.type ?? ''}${a.content_id ?? ''}`))
      return fail(error('Attachment fields may not contain CR or LF.', `attachments.${i}`));
    attachments.push({
      filename: a.filename,
      contentType: a.type ?? null,
      content: Buffer.from(a.content, 'base64'),
      contentId: a.disposition === 'inline' ? (a.content_id ?? null) : null,
    });
  }

  const text = bodies['text/plain'] ?? null;
  const html = bodies['text/html'] ?? null;
  const ampHtml = bodies['text/x-amp-html'] ?? null;
  const tracking = m.tracking_settings;
  const messages: ApiMessage[] = [];
  for (const [i, p] of m.personalizations.entries()) {
    const seen = new Set<string>();
    const lists: Record<'to' | 'cc' | 'bcc', Mailbox[]> = { to: [], cc: [], bcc: [] };
    for (const kind of ['to', 'cc', 'bcc'] as const)
      for (const [j, r] of (p[kind] ?? []).entries()) {
        const box = one(r, `personalizations.${i}.${kind}.${j}.email`);
        if (isError(box)) return fail(box);
        const key = box.address.toLowerCase();
        if (seen.has(key))
          return fail(
            error(
              'Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [' +
                box.address +
                '] in the personalizations.' +
                i +
                '.' +
                kind +
                ' field.',
              `personalizations.${i}.${kind}`,
            ),
          );
        seen.add(key);
        lists[kind].push(box);
      }
    const pFrom = p.from ? one(p.from, `personalizations.${i}.from.email`) : from;
    if (isError(pFrom)) return fail(pFrom);
    const sendAtSeconds = p.send_at ?? m.send_at;
    const sendAt = sendAtSeconds === undefined ? null : sendAtSeconds * 1000;
    if (sendAt !== null && sendAt - now > MAX_SCHEDULE_MS)
      return fail(error('The send_at parameter must be within 72 hours of now.', 'send_at'));
    const substitute = substitutions(p.substitutions ?? {});
    const pool = m.ip_pool_name ? [['X-Mailtrail-Pool', m.ip_pool_name] as const] : [];
    // A personalization's header replaces the message's of the same name, in any case.
    const merged = new Map<string, readonly [string, string]>();
    for (const [k, v] of [...Object.entries(m.headers ?? {}), ...Object.entries(p.headers ?? {})])
      merged.set(k.toLowerCase(), [k, substitute(v)]);
    const headers = customHeaders([...merged.values(), ...pool]);
    if (!headers.ok) return fail(error(headers.message, 'headers'));
    const own = takeMessageId(headers.headers);
    messages.push({
      kind: 'fields',
      ...DEFAULT_API_OPTIONS,
      from: pFrom,
      ...lists,
      replyTo,
      subject: substitute(p.subject ?? m.subject ?? ''),
      text: text === null ? null : substitute(text),
      html: html === null ? null : substitute(html),
      ampHtml: ampHtml === null ? null : substitute(ampHtml),
      headers: own.headers,
      attachments,
      messageIdHeader: own.messageId,
      tags: m.categories ?? [],
      metadata: { ...m.custom_args, ...p.custom_args },
      sendAt,
      testMode: m.mail_settings?.sandbox_mode?.enable === true,
      trackOpens: tracking?.open_tracking?.enable ?? null,
      trackLinks: linkTracking(tracking?.click_tracking),
    });
  }
  return { ok: true, messages, sandbox: m.mail_settings?.sandbox_mode?.enable === true };
};
