/**
 * An SMTP rejection: basic code, enhanced code (RFC 3463) and text. smtp-server sends
 * `err.responseCode` and `err.message`; smtp-server-fixes.ts makes it keep our enhanced code.
 */
export interface SmtpRejection extends Error {
  readonly responseCode: number;
}

export const smtpError = (code: number, enhanced: string, text: string): SmtpRejection =>
  Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
