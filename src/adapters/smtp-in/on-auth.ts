import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import { smtpError } from './smtp-error.js';
import type { AuthResult, SubmissionPort } from './submission-port.js';

export interface AuthLimits {
  readonly maxFailures: number;
  readonly failureDelayMs: number;
}

type Callback = (err: Error | null, response?: { user: unknown }) => void;

/**
 * AUTH PLAIN/LOGIN against the credential store. Each failure on a connection is answered
 * more slowly than the last; after `maxFailures` the connection is closed with 421. The
 * reply is the same for an unknown user and a wrong password. Across connections the
 * application counts failures per address and username and may throttle: 454 4.7.0.
 */
export const createAuthHandler = (port: SubmissionPort, limits: AuthLimits) => {
  const failures = new Map<string, number>();
  const handler = (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: Callback,
  ) => {
    const username = auth.username ?? '';
    const password = auth.password ?? '';
    // RFC 4616: acting as another identity (authzid) is not something we grant.
    const impersonating = auth.authzid && auth.authcid && auth.authzid !== auth.authcid;
    const check: Promise<AuthResult> = impersonating
      ? Promise.resolve({ ok: false, reason: 'invalid' })
      : port.authenticate(username, password, session.remoteAddress);
    check.then(
      (result) => {
        if (result.ok) {
          failures.delete(session.id);
          return callback(null, { user: result.credential });
        }
        if (result.reason === 'throttled') return callback(smtpError(454, '4.7.0', result.message));
        const count = (failures.get(session.id) ?? 0) + 1;
        failures.set(session.id, count);
        setTimeout(() => {
          if (count >= limits.maxFailures)
            return callback(smtpError(421, '4.7.0', 'Too many authentication failures, closing'));
          callback(smtpError(535, '5.7.8', 'Authentication credentials invalid'));
        }, count * limits.failureDelayMs);
      },
      () => callback(smtpError(454, '4.7.0', 'Temporary authentication failure')),
    );
  };
  return { handler, forget: (sessionId: string) => failures.delete(sessionId) };
};
