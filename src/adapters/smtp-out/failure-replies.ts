import type { SmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { parseSmtpReply } from '../../domain/smtp-reply/smtp-reply.js';

interface ErrorLike {
  readonly code?: string;
  readonly category?: string;
  readonly temporary?: boolean;
  readonly message?: string;
  readonly response?: string;
  readonly responseCode?: number;
  readonly command?: string;
  readonly timeoutType?: string;
  /** It failed after STARTTLS was agreed, before TLS was up. */
  readonly duringTls?: boolean;
}

/**
 * It answered the greeting or EHLO/HELO with a refusal (RFC 5321 §3.1: 421 or 554, or 421
 * at any command when it is shutting down): it will not talk.
 */
export const refusedToTalk = (e: ErrorLike): boolean =>
  ['CONN', 'EHLO', 'HELO'].includes(e.command ?? '') && /^[45]\d\d/.test(e.response ?? '');

/** STARTTLS was agreed, and then the TLS handshake failed or never finished. */
export const tlsFailed = (e: ErrorLike): boolean =>
  e.duringTls === true ||
  e.code === 'ETLS' ||
  (e.code === 'ETIMEDOUT' && e.timeoutType === 'UPGRADE_TIMEOUT');

/** The certificate was not valid for the host, where MTA-STS or o:require-tls demands it. */
export const certificateRefused = (e: ErrorLike): boolean => e.code === 'ECERT';

const local = (code: number, enhancedCode: string, text: string): SmtpReply => ({
  code,
  enhancedCode,
  text,
});

/**
 * The reply to record when connecting failed before any SMTP reply: null MX and a domain
 * that does not exist are permanent (RFC 7505, RFC 5321 §5.1); everything else is worth
 * another try later.
 */
export const connectFailureReply = (error: ErrorLike): SmtpReply => {
  const text = (error.message ?? String(error)).replace(/\s+/g, ' ').trim();
  if (error.code === 'ENULLMX') return local(556, '5.1.10', text);
  if (error.category === 'dns' && !error.temporary) return local(550, '5.1.2', text);
  if (error.category === 'dns') return local(451, '4.4.3', text);
  if (error.category === 'policy') return local(451, '4.4.4', text);
  // STARTTLS refused or failed where the site's policy requires it (RFC 5248: encryption needed).
  if (tlsFailed(error)) return local(451, '4.7.10', text);
  // RFC 3463 X.7.5: cryptographic failure (Postfix says the same of an unverified certificate).
  if (certificateRefused(error)) return local(451, '4.7.5', text);
  // Every host greeted with a refusal: a 421 is the server's own word (reply rules match it);
  // a 554 greeting is not taken as a verdict on the mail, as Postfix does not (skip_5xx).
  if (refusedToTalk(error) && error.response?.startsWith('4'))
    return parseSmtpReply(error.response);
  return local(451, '4.4.1', text);
};

/** The address needs SMTPUTF8 (its own local part or the sender's) and the server lacks it. */
export const smtpUtf8RequiredReply = (mx: string | null, address: string): SmtpReply =>
  local(
    553,
    '5.6.7',
    `SMTPUTF8 is required for <${address}>, and ${mx ?? 'the server'} does not offer it`,
  );

/** The reply to record when a transaction failed: the server's own, or a local 4xx. */
export const transactionFailureReply = (error: ErrorLike): SmtpReply => {
  if (error.response && /^\d{3}/.test(error.response)) return parseSmtpReply(error.response);
  if (error.code === 'EMESSAGE' && /size/i.test(error.message ?? ''))
    return local(552, '5.3.4', error.message ?? 'Message too big for the remote');
  // RFC 5321 §3.8: a connection lost mid-transaction is treated as a 451.
  return local(451, '4.4.2', (error.message ?? String(error)).replace(/\s+/g, ' ').trim());
};
