import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { Mailbox } from '../../domain/address/mailbox.js';
import type { ComposedApiMessage } from '../http-api/api-submission-port.js';
import { composerHeader } from './header-lines.js';
import { mimeTreeBytes } from './mime-tree-bytes.js';

// MailComposer passes text through as given; SMTP needs CRLF and no NUL (the same canon the
// SMTP front enforces), so bodies are put right before they are composed.
const canonical = (text: string | null): string | undefined =>
  text === null ? undefined : text.replace(/\r\n|\r|\n/g, '\r\n').replace(/\0/g, '');

const toAddress = (m: Mailbox) => ({ name: m.name ?? '', address: m.address });

/** What composition reads of an API message: its header fields, bodies and attachments. */
export type MimeFields = Pick<
  ComposedApiMessage,
  | 'from'
  | 'to'
  | 'cc'
  | 'replyTo'
  | 'subject'
  | 'text'
  | 'html'
  | 'ampHtml'
  | 'headers'
  | 'attachments'
>;

/** Only what composition reads: less to copy when the message crosses to another thread. */
export const mimeFields = (m: MimeFields): MimeFields => ({
  from: m.from,
  to: m.to,
  cc: m.cc,
  replyTo: m.replyTo,
  subject: m.subject,
  text: m.text,
  html: m.html,
  ampHtml: m.ampHtml,
  headers: m.headers,
  attachments: m.attachments,
});

/**
 * The RFC 5322 message for an API submission, built by nodemailer's MailComposer: it
 * encodes non-ASCII names and subjects, picks transfer encodings, and lays out the
 * alternative, related and mixed parts. Bcc never appears in the headers.
 */
export const composeMime = (
  message: MimeFields,
  messageIdHeader: string,
  date: Date,
): Promise<Buffer> => {
  const options: Mail.Options & { readonly baseBoundary: string } = {
    // Otherwise the root part draws randomBytes(8): a synchronous OpenSSL call that costs
    // a getpid() syscall, about 5 µs on this VM. randomUUID draws from a cache. (Child parts
    // still draw one each that they never use: MailComposer passes them no base boundary.)
    baseBoundary: randomUUID().replaceAll('-', ''),
    from: toAddress(message.from),
    to: message.to.map(toAddress),
    cc: message.cc.map(toAddress),
    replyTo: message.replyTo.map(toAddress),
    subject: message.subject ?? undefined,
    text: canonical(message.text),
    html: canonical(message.html),
    amp: canonical(message.ampHtml),
    headers: message.headers.map(([key, value]) => composerHeader(key, value)),
    messageId: messageIdHeader,
    date,
    attachments: message.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      ...(a.contentId ? { cid: a.contentId, contentDisposition: 'inline' as const } : {}),
    })),
  };
  const root = new MailComposer(options).compile();
  // API content is all in memory, so the tree is written in one pass; build() streams it.
  const bytes = mimeTreeBytes(root);
  return bytes ? Promise.resolve(bytes) : root.build();
};

/** Every envelope recipient of a composed message, To, Cc and Bcc, each once. */
export const envelopeRecipients = (message: {
  readonly to: readonly Mailbox[];
  readonly cc?: readonly Mailbox[];
  readonly bcc?: readonly Mailbox[];
}): string[] => {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of [...message.to, ...(message.cc ?? []), ...(message.bcc ?? [])]) {
    const key = m.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(m.address);
  }
  return out;
};
