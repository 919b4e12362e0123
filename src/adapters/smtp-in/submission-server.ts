import { SMTPServer } from 'smtp-server';
import { networkMatcher } from '../../domain/network/network-matcher.js';
import { createConnectionLimits, watchDeadlines } from './connection-limits.js';
import { createErrorLimits } from './error-limits.js';
import type { OnLimit } from './limit-reason.js';
import { listenSmtp } from './listen-smtp.js';
import { createAuthHandler } from './on-auth.js';
import { createDataHandler } from './on-data.js';
import { createEnvelopeHandlers } from './on-envelope.js';
import { type FixedServerOptions, installSmtpServerFixes } from './smtp-server-fixes.js';
import type { SubmissionPort } from './submission-port.js';

export interface SubmissionServerOptions {
  readonly hostname: string;
  readonly tls: { readonly key: string | Buffer; readonly cert: string | Buffer };
  readonly trustedNetworks: readonly string[];
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly maxLineLength: number;
  readonly maxClients: number;
  readonly maxClientsPerAddress: number;
  readonly errorLimits: { readonly soft: number; readonly hard: number; readonly sleepMs: number };
  readonly deadlines: {
    readonly commandMs: number;
    readonly dataMs: number;
    readonly sessionMs: number;
  };
  readonly maxAuthFailures: number;
  readonly authFailureDelayMs: number;
  readonly socketTimeoutMs: number;
  readonly greetingDelayMs: number;
  readonly bareLineEndings: 'normalize' | 'reject';
  readonly logger?: { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void };
  /** A client cut short by a limit: for the log and the metrics. */
  readonly onLimit?: OnLimit;
}

export interface SubmissionServer {
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

/** The submission listener: STARTTLS (TLS 1.2+), then AUTH PLAIN/LOGIN, then mail. */
export const createSubmissionServer = (
  port: SubmissionPort,
  options: SubmissionServerOptions,
): SubmissionServer => {
  installSmtpServerFixes();
  const auth = createAuthHandler(port, {
    maxFailures: options.maxAuthFailures,
    failureDelayMs: options.authFailureDelayMs,
  });
  const trusted = networkMatcher(options.trustedNetworks);
  const onLimit = options.onLimit ?? (() => {});
  const errors = createErrorLimits({ ...options.errorLimits, onLimit });
  const envelope = createEnvelopeHandlers(trusted, port, {
    maxRecipients: options.maxRecipients,
    onLimit,
    errors,
  });
  const limits = createConnectionLimits({
    maxPerAddress: options.maxClientsPerAddress,
    exempt: trusted,
    refusal: (address) => port.connectionRefusal(address),
    onLimit,
  });
  const serverOptions: FixedServerOptions = {
    name: options.hostname,
    banner: 'mailtrail ESMTP',
    secure: false,
    key: options.tls.key,
    cert: options.tls.cert,
    minVersion: 'TLSv1.2',
    size: options.maxMessageSize,
    maxClients: options.maxClients,
    socketTimeout: options.socketTimeoutMs,
    greetingDelayMs: options.greetingDelayMs,
    onLimit,
    onConnect: limits.onConnect,
    authMethods: ['PLAIN', 'LOGIN'],
    // Relay rules (AUTH or a trusted network) are ours: see on-envelope.ts.
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    // DSN is not advertised until the relay generates delivery status notifications.
    hideDSN: true,
    disableReverseLookup: true,
    logger: false,
    onAuth: auth.handler,
    onMailFrom: envelope.onMailFrom,
    onRcptTo: envelope.onRcptTo,
    onData: createDataHandler(port, {
      maxLineLength: options.maxLineLength,
      bareLineEndings: options.bareLineEndings,
      onLimit,
    }),
    onClose: (session) => {
      auth.forget(session.id);
      errors.forget(session.id);
      limits.onClose(session);
    },
    // Counted in onRcptTo (on-envelope.ts), where the refusal is logged and measured.
    maxRecipients: 0,
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', (error) => options.logger?.warn({ err: error }, 'smtp connection error'));
  const stopDeadlines = watchDeadlines(server, { ...options.deadlines, onLimit });
  return {
    listen: (listenPort, host) => listenSmtp(server, listenPort, host),
    close: () =>
      new Promise((resolve) => {
        stopDeadlines();
        server.close(() => resolve());
      }),
  };
};
