import { parseSmtpReply, type SmtpReply } from '../smtp-reply/smtp-reply.js';

/**
 * What came back to a return path: an RFC 3464 delivery status report, an RFC 5965
 * feedback (complaint) report, a bounce in one of the older free-text formats (qmail,
 * Exim), an auto-reply, or something we do not read.
 */
export type InboundReport =
  | { readonly kind: 'delivery-status'; readonly recipients: readonly DsnRecipient[] }
  | {
      readonly kind: 'feedback';
      readonly feedbackType: string;
      readonly userAgent: string | null;
      readonly originalRcptTo: string | null;
    }
  | { readonly kind: 'bounce'; readonly reply: SmtpReply }
  | { readonly kind: 'auto-reply' }
  | { readonly kind: 'unknown' };

export interface DsnRecipient {
  readonly finalRecipient: string | null;
  readonly originalRecipient: string | null;
  /** failed, delayed, delivered, relayed or expanded (RFC 3464 §2.3.3). */
  readonly action: string;
  /** The remote's reply (Diagnostic-Code), or one made of the Status when there is none. */
  readonly reply: SmtpReply;
  readonly remoteMta: string | null;
}

type Fields = ReadonlyMap<string, string>;

/** Header-style fields (RFC 5322 §2.2), names lower-cased, folded lines joined. */
const parseFields = (block: string): Fields => {
  const fields = new Map<string, string>();
  let last: string | null = null;
  for (const line of block.split('\n')) {
    if (/^[ \t]/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      if (!fields.has(last)) fields.set(last, line.slice(colon + 1).trim());
    }
  }
  return fields;
};

const splitHead = (text: string): { head: Fields; body: string } => {
  const end = text.indexOf('\n\n');
  return end < 0
    ? { head: parseFields(text), body: '' }
    : { head: parseFields(text.slice(0, end)), body: text.slice(end + 2) };
};

const param = (value: string | undefined, name: string): string | null => {
  const m = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(
    value ?? '',
  );
  return m ? (m[1] ?? m[2] ?? null) : null;
};

/** The parts of a multipart body (one level), each with its own head. */
const partsOf = (body: string, boundary: string): Array<{ head: Fields; body: string }> => {
  const marker = `--${boundary}`;
  const parts: Array<{ head: Fields; body: string }> = [];
  const chunks = body.split('\n');
  let current: string[] | null = null;
  for (const line of chunks) {
    const trimmed = line.trimEnd();
    if (trimmed === marker || trimmed === `${marker}--`) {
      if (current) parts.push(splitHead(current.join('\n')));
      current = trimmed === marker ? [] : null;
      if (!current) break;
    } else current?.push(line);
  }
  return parts;
};

/** `rfc822; alice@example.com` → `alice@example.com`. */
const addressOf = (value: string | undefined): string | null => {
  if (!value) return null;
  const address = value
    .replace(/^[^;]*;\s*/, '')
    .replace(/^<|>$/g, '')
    .trim();
  return address.includes('@') ? address.toLowerCase() : null;
};

/** `smtp; 550 5.1.1 no such user` → the reply; the Status alone when there is none. */
const replyOf = (diagnostic: string | undefined, status: string | undefined): SmtpReply => {
  const text = diagnostic?.replace(/^[a-z-]+\s*;\s*/i, '').trim();
  const parsed = text ? parseSmtpReply(text) : null;
  if (parsed && parsed.code >= 400) return parsed;
  const enhanced = /^([245])\.\d{1,3}\.\d{1,3}/.exec(status ?? '')?.[0] ?? null;
  return {
    code: enhanced?.startsWith('5') ? 550 : enhanced?.startsWith('2') ? 250 : 450,
    enhancedCode: enhanced,
    text: text ?? `status ${status ?? 'unknown'}`,
  };
};

const deliveryStatus = (body: string): DsnRecipient[] =>
  body
    .split(/\n\s*\n/)
    .map(parseFields)
    .filter((f) => f.has('action') && (f.has('final-recipient') || f.has('original-recipient')))
    .map((f) => ({
      finalRecipient: addressOf(f.get('final-recipient')),
      originalRecipient: addressOf(f.get('original-recipient')),
      action: (f.get('action') ?? '').split(/[\s(]/)[0]?.toLowerCase() ?? '',
      reply: replyOf(f.get('diagnostic-code'), f.get('status')),
      remoteMta: f.get('remote-mta')?.replace(/^[^;]*;\s*/, '') ?? null,
    }));

// A reply quoted in a free-text bounce: `550 5.1.1 User unknown`, or qmail's `(#5.1.1)`.
const QUOTED_REPLY = /\b([45]\d\d)[ -]([45]\.\d{1,3}\.\d{1,3})?\s*([^\n]*)/;
const QMAIL_CODE = /^(.*)\(#([45]\.\d{1,3}\.\d{1,3})\)/m;
const BOUNCE_LOOK =
  /mailer-daemon|postmaster|undeliver|failure notice|delivery (status|failure|failed)|returned mail|could not be delivered|wasn't able to deliver/i;

/** Reads what came back; never throws (a report we cannot read is `unknown`). */
export const parseInboundReport = (raw: string): InboundReport => {
  const { head, body } = splitHead(raw.replace(/\r\n?/g, '\n'));
  const type = head.get('content-type') ?? 'text/plain';
  const boundary = param(type, 'boundary');
  if (/^multipart\/report/i.test(type) && boundary) {
    const reportType = (param(type, 'report-type') ?? '').toLowerCase();
    const parts = partsOf(body, boundary);
    const part = (name: string) =>
      parts.find((p) => (p.head.get('content-type') ?? '').toLowerCase().startsWith(name));
    if (reportType === 'delivery-status') {
      const status = part('message/delivery-status');
      if (status) return { kind: 'delivery-status', recipients: deliveryStatus(status.body) };
    }
    if (reportType === 'feedback-report') {
      const feedback = part('message/feedback-report');
      if (feedback) {
        const f = parseFields(feedback.body.trim());
        return {
          kind: 'feedback',
          feedbackType: (f.get('feedback-type') ?? 'other').toLowerCase(),
          userAgent: f.get('user-agent') ?? null,
          originalRcptTo: addressOf(f.get('original-rcpt-to')),
        };
      }
    }
    return { kind: 'unknown' };
  }
  const looksLikeBounce = BOUNCE_LOOK.test(
    `${head.get('from') ?? ''} ${head.get('subject') ?? ''}`,
  );
  if (looksLikeBounce) {
    const qmail = QMAIL_CODE.exec(body);
    if (qmail)
      return {
        kind: 'bounce',
        reply: {
          code: qmail[2]?.startsWith('5') ? 550 : 450,
          enhancedCode: qmail[2] ?? null,
          text: (qmail[1] ?? '').trim(),
        },
      };
    const quoted = QUOTED_REPLY.exec(body);
    if (quoted) return { kind: 'bounce', reply: parseSmtpReply(quoted[0].trim()) };
  }
  const auto = (head.get('auto-submitted') ?? 'no').toLowerCase();
  if (
    auto !== 'no' ||
    head.has('x-autoreply') ||
    /auto[-_ ]?reply/i.test(head.get('precedence') ?? '')
  )
    return { kind: 'auto-reply' };
  return { kind: 'unknown' };
};

/** Every VERP local part in a text (a complaint report quotes the original's Return-Path). */
export const verpLocalPartsIn = (raw: string): string[] => [
  ...new Set(
    [...raw.matchAll(/\bb\+[0-9a-z]{26}\.[0-9a-z]{1,4}\.[0-9a-f]{16}(?=@)/gi)].map((m) =>
      m[0].toLowerCase(),
    ),
  ),
];
