import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import {
  inspectLineEndings,
  isClean,
  normalizeLineEndings,
} from '../../domain/message-body/line-endings.js';
import type { OnLimit } from './limit-reason.js';
import { objectionReply } from './objection-reply.js';
import { smtpError } from './smtp-error.js';
import {
  type AuthenticatedCredential,
  SubmissionDeferred,
  type SubmissionPort,
  SubmissionRefused,
} from './submission-port.js';

export interface DataLimits {
  readonly maxLineLength: number;
  readonly bareLineEndings: 'normalize' | 'reject';
  readonly onLimit: OnLimit;
}

type Callback = (err: Error | null, message?: string) => void;

/**
 * DATA: buffer the body (bounded by SIZE), check it, store it, and only then answer 250.
 * A client that goes away before the final dot destroys the stream: nothing is stored.
 */
export const createDataHandler =
  (port: SubmissionPort, limits: DataLimits) =>
  (stream: SMTPServerDataStream, session: SMTPServerSession, callback: Callback) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      // Past the limit, keep reading to the final dot but stop holding the bytes.
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.on('error', () => {
      chunks.length = 0;
    });
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        limits.onLimit('message-size', session.remoteAddress);
        return callback(smtpError(552, '5.3.4', 'Message too big for system'));
      }
      const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const report = inspectLineEndings(raw);
      if (report.longestLine > limits.maxLineLength) {
        limits.onLimit('line-length', session.remoteAddress);
        return callback(
          smtpError(500, '5.5.2', `Line too long (${limits.maxLineLength} octets at most)`),
        );
      }
      let body = raw;
      if (!isClean(report)) {
        if (limits.bareLineEndings === 'reject')
          return callback(
            smtpError(
              550,
              '5.6.0',
              'Message contains bare CR, bare LF or NUL; use CRLF line endings',
            ),
          );
        body = Buffer.from(normalizeLineEndings(raw));
      }
      const envelope = session.envelope;
      port
        .accept({
          envelope: {
            from: envelope.mailFrom ? envelope.mailFrom.address : '',
            to: envelope.rcptTo.map((r) => ({
              address: r.address,
              orcpt: (r as { dsn?: { orcpt?: string } }).dsn?.orcpt ?? null,
            })),
            envId: (envelope as { dsn?: { envid?: string } }).dsn?.envid ?? null,
          },
          body,
          client: {
            address: session.remoteAddress,
            helo: session.hostNameAppearsAs || null,
            tls: Boolean(session.secure),
          },
          credential: (session.user as AuthenticatedCredential | undefined) ?? null,
        })
        .then(
          ({ messageId }) => callback(null, `2.0.0 Ok: queued as ${messageId}`),
          (error) => {
            if (error instanceof SubmissionRefused && error.code === 'HeaderTooLarge')
              limits.onLimit('header-size', session.remoteAddress);
            callback(
              error instanceof SubmissionRefused || error instanceof SubmissionDeferred
                ? objectionReply(error, 'data')
                : smtpError(451, '4.3.0', 'Temporary failure storing the message, try again'),
            );
          },
        );
    });
  };
