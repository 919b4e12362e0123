import { z } from 'zod';
import { type Mailbox, parseMailboxList } from '../../../domain/address/mailbox.js';
import { customHeaders, DEFAULT_API_OPTIONS, isBase64, takeMessageId } from '../api-fields.js';
import type { ApiAttachment, ApiMessage } from '../api-submission-port.js';

/** Postmark's error body: an ErrorCode of its own catalogue and a message. */
export interface PostmarkError {
  readonly ErrorCode: number;
  readonly Message: string;
}

export type PostmarkParse =
  | { readonly ok: true; readonly message: ApiMessage }
  | { readonly ok: false; readonly error: PostmarkError };

/** Postmark's codes (its API reference): 300 invalid email request, 402 invalid JSON... */
export const POSTMARK = {
  badToken: 10,
  invalidRequest: 300,
  senderNotFound: 400,
  invalidJson: 402,
  notAllowed: 405,
  inactiveRecipient: 406,
  jsonRequired: 409,
  tooManyBatchMessages: 410,
  accountMayNotSend: 413,
  rateLimited: 429,
} as const;

export const MAX_RECIPIENTS = 50;
export const MAX_BATCH = 500;

const message = z
  .object({
    From: z.string().optional(),
    To: z.string().optional(),
    Cc: z.string().optional(),
    Bcc: z.string().optional(),
    Subject: z.string().optional(),
    Tag: z.string().optional(),
    HtmlBody: z.string().optional(),
    TextBody: z.string().optional(),
    ReplyTo: z.string().optional(),
    Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
    TrackOpens: z.boolean().optional(),
    TrackLinks: z.enum(['None', 'HtmlAndText', 'HtmlOnly', 'TextOnly']).optional(),
    Metadata: z.record(z.string(), z.string()).optional(),
    Attachments: z
      .array(
        z.object({
          Name: z.string(),
          Content: z.string(),
          ContentType: z.string().optional(),
          ContentID: z.string().nullish(),
        }),
      )
      .optional(),
    // A stream's ID as Postmark's servers name them; any such name is taken, and told back
    // in the webhooks of what was sent on it.
    MessageStream: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/, 'a message stream ID')
      .optional(),
  })
  .passthrough();

const fail = (Message: string, ErrorCode: number = POSTMARK.invalidRequest): PostmarkParse => ({
  ok: false,
  error: { ErrorCode, Message },
});

const list = (
  value: string | undefined,
  field: string,
): { ok: true; list: Mailbox[] } | { ok: false; result: PostmarkParse } => {
  if (value === undefined || value.trim() === '') return { ok: true, list: [] };
  const parsed = parseMailboxList(value);
  return parsed.ok
    ? { ok: true, list: [...parsed.mailboxes] }
    : { ok: false, result: fail(`Invalid '${field}' address: '${parsed.invalid}'.`) };
};

/** One Postmark message object (of `/email`, or one item of `/email/batch`). */
export const parsePostmarkMessage = (body: unknown): PostmarkParse => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail('The request body must be a JSON object.', POSTMARK.invalidJson);
  if ('TemplateId' in body || 'TemplateAlias' in body)
    return fail('Templates are not supported by this server: send HtmlBody or TextBody.');
  const parsed = message.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`Invalid '${issue?.path.join('.') ?? 'message'}': ${issue?.message ?? 'invalid'}.`);
  }
  const m = parsed.data;
  const from = parseMailboxList(m.From ?? '');
  if (!from.ok || from.mailboxes.length !== 1)
    return fail(`Invalid 'From' address: '${m.From ?? ''}'.`);
  const to = list(m.To, 'To');
  if (!to.ok) return to.result;
  const cc = list(m.Cc, 'Cc');
  if (!cc.ok) return cc.result;
  const bcc = list(m.Bcc, 'Bcc');
  if (!bcc.ok) return bcc.result;
  const replyTo = list(m.ReplyTo, 'ReplyTo');
  if (!replyTo.ok) return replyTo.result;
  const count = to.list.length + cc.list.length + bcc.list.length;
  if (count === 0) return fail('Zero recipients specified');
  if (count > MAX_RECIPIENTS)
    return fail(
      `Maximum of ${MAX_RECIPIENTS} recipients (To, Cc and Bcc together) allowed per message.`,
    );
  if (!m.HtmlBody && !m.TextBody) return fail('Provide either email TextBody or HtmlBody or both.');
  const headers = customHeaders((m.Headers ?? []).map((h) => [h.Name, h.Value] as const));
  if (!headers.ok) return fail(`Invalid 'Headers': ${headers.message}.`);
  const own = takeMessageId(headers.headers);
  const attachments: ApiAttachment[] = [];
  for (const a of m.Attachments ?? []) {
    if (!isBase64(a.Content))
      return fail(`Invalid 'Attachments': the content of ${a.Name} is not base64.`);
    attachments.push({
      filename: a.Name,
      contentType: a.ContentType ?? null,
      content: Buffer.from(a.Content, 'base64'),
      contentId: a.ContentID ? a.ContentID.replace(/^cid:/i, '') : null,
    });
  }
  const links = m.TrackLinks;
  return {
    ok: true,
    message: {
      kind: 'fields',
      ...DEFAULT_API_OPTIONS,
      from: from.mailboxes[0] as Mailbox,
      to: to.list,
      cc: cc.list,
      bcc: bcc.list,
      replyTo: replyTo.list,
      subject: m.Subject ?? null,
      text: m.TextBody ?? null,
      html: m.HtmlBody ?? null,
      ampHtml: null,
      headers: own.headers,
      attachments,
      messageIdHeader: own.messageId,
      tags: m.Tag ? [m.Tag] : [],
      metadata: m.Metadata ?? {},
      trackOpens: m.TrackOpens ?? null,
      trackLinks:
        links === undefined
          ? null
          : {
              html: links === 'HtmlOnly' || links === 'HtmlAndText',
              text: links === 'TextOnly' || links === 'HtmlAndText',
            },
      stream: m.MessageStream ?? null,
    },
  };
};
