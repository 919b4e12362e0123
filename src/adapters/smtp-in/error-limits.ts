import type { SMTPServerSession } from 'smtp-server';
import type { OnLimit } from './limit-reason.js';
import { smtpError } from './smtp-error.js';

export interface ErrorLimitOptions {
  /** Refusals in a session before each further one is answered `sleepMs` late ... */
  readonly soft: number;
  /** ... and before the client is cut off with 421 4.7.0. */
  readonly hard: number;
  readonly sleepMs: number;
  readonly onLimit: OnLimit;
}

type Callback = (err?: Error | null) => void;

/**
 * Postfix's smtpd_soft_error_limit, smtpd_error_sleep_time and smtpd_hard_error_limit: a
 * client that keeps getting refused (relay attempts, a credential past its cap, recipients
 * we will not take) is slowed, then disconnected, instead of spinning the server as fast
 * as it can send.
 */
export const createErrorLimits = (options: ErrorLimitOptions) => {
  const errors = new Map<string, number>();
  return {
    refuse: (session: SMTPServerSession, error: Error, callback: Callback): void => {
      const count = (errors.get(session.id) ?? 0) + 1;
      errors.set(session.id, count);
      if (count > options.hard) {
        options.onLimit('error-limit', session.remoteAddress);
        callback(smtpError(421, '4.7.0', 'Too many errors, closing connection'));
        return;
      }
      if (count > options.soft) {
        setTimeout(() => callback(error), options.sleepMs);
        return;
      }
      callback(error);
    },
    forget: (sessionId: string): void => {
      errors.delete(sessionId);
    },
  };
};

export type ErrorLimits = ReturnType<typeof createErrorLimits>;
