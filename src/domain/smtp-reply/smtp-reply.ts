/** A reply from a remote SMTP server, or a local stand-in for one (connection failures). */
export interface SmtpReply {
  readonly code: number;
  /** RFC 3463 `class.subject.detail`, when the server sent one or we could derive one. */
  readonly enhancedCode: string | null;
  readonly text: string;
}

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)/;

/**
 * Parses `550 5.1.1 No such user` or a multi-line `451-4.7.1 a\r\n451 4.7.1 b`. The
 * enhanced code comes from the first line and must be of the same class as the basic code;
 * one that is not (a broken server's `552 4.3.1`) is dropped rather than trusted.
 */
export const parseSmtpReply = (raw: string): SmtpReply => {
  const lines = raw.replace(/\r/g, '').split('\n').filter(Boolean);
  const first = lines[0] ?? '';
  const codeMatch = /^(\d{3})[ -]?(.*)$/.exec(first);
  if (!codeMatch) return { code: 0, enhancedCode: null, text: raw.trim() };
  const code = Number(codeMatch[1]);
  const rest = (codeMatch[2] ?? '').trim();
  const enhanced = ENHANCED.exec(rest);
  const enhancedCode =
    enhanced && enhanced[1] === String(code)[0]
      ? `${enhanced[1]}.${enhanced[2]}.${enhanced[3]}`
      : null;
  const texts = lines.map((line) =>
    line
      .replace(/^\d{3}[ -]?/, '')
      .replace(ENHANCED, '')
      .trim(),
  );
  return { code, enhancedCode, text: texts.join(' ').trim() };
};

/** The enhanced code to report: the server's own, or the class default (RFC 3463 x.0.0). */
export const effectiveEnhancedCode = (reply: SmtpReply): string =>
  reply.enhancedCode ?? `${String(reply.code)[0] ?? '4'}.0.0`;

export const formatSmtpReply = (reply: SmtpReply): string =>
  [reply.code, reply.enhancedCode, reply.text].filter((p) => p !== null && p !== '').join(' ');

export type ReplyClass = 'success' | 'transient' | 'permanent';

export const replyClass = (reply: SmtpReply): ReplyClass =>
  reply.code >= 200 && reply.code < 300
    ? 'success'
    : reply.code >= 500 && reply.code < 600
      ? 'permanent'
      : 'transient';

/**
 * A refused RCPT that says only that this transaction has no room for more recipients (RFC
 * 5321 §4.5.3.1.10): the recipient goes in another transaction. Servers following RFC 821
 * say so with 552; that is read as the 452 RFC 5321 asks for, but only when it names too
 * many recipients (X.5.3, or in its text): a 552 for a full mailbox stays what it is.
 */
export const noRoomForRecipient = (reply: SmtpReply): boolean =>
  (reply.code === 452 || reply.code === 552) &&
  (reply.enhancedCode?.endsWith('.5.3') === true || /too many recipients/i.test(reply.text));

/** A RCPT refusal as it is to be recorded: no room in the transaction is never permanent. */
export const rcptRefusal = (reply: SmtpReply): SmtpReply =>
  reply.code === 552 && noRoomForRecipient(reply)
    ? { ...reply, code: 452, enhancedCode: '4.5.3' }
    : reply;
