import { SMTPServer } from 'smtp-server';
import { listenSmtp } from '../smtp-in/listen-smtp.js';
import { smtpError } from '../smtp-in/smtp-error.js';
import { type FixedServerOptions, installSmtpServerFixes } from '../smtp-in/smtp-server-fixes.js';

/** What the bounce listener needs from the application. */
export interface BounceListenerPort {
  /**
   * Whether this recipient may receive here: `ok`, or why not. Only our return paths (and
   * the feedback-loop addresses) on our bounce domains: the listener relays nothing.
   */
  checkRecipient(address: string): 'ok' | 'NotOurDomain' | 'Forged' | 'Unknown';
  /** Records the report; resolves once what it says is durable. */
  record(input: { readonly rcptTo: readonly string[]; readonly raw: string }): Promise<void>;
}

export interface BounceListener {
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

const REFUSALS = {
  NotOurDomain: [550, '5.7.1', 'relaying denied: this host takes bounces for its own domains only'],
  Forged: [550, '5.7.1', 'no such return path here (forged or damaged)'],
  Unknown: [550, '5.1.1', 'no such mailbox here'],
} as const;

/**
 * The inbound listener for bounce and complaint reports (port 25 of the `bounces.<domain>`
 * MX): no AUTH, no relaying; each recipient must be one of our VERP return paths (checked
 * at RCPT, so a forged token never gets to DATA) or a feedback-loop address.
 */
export const createBounceListener = (
  port: BounceListenerPort,
  options: { readonly hostname: string; readonly maxMessageSize: number },
): BounceListener => {
  installSmtpServerFixes();
  const serverOptions: FixedServerOptions = {
    name: options.hostname,
    banner: 'mailtrail bounce processor',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    size: options.maxMessageSize,
    maxRecipients: 50,
    logger: false,
    onRcptTo: (address, _session, callback) => {
      const verdict = port.checkRecipient(address.address);
      if (verdict === 'ok') return callback();
      const [code, enhanced, text] = REFUSALS[verdict];
      return callback(smtpError(code, enhanced, text));
    },
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded)
          return callback(smtpError(552, '5.3.4', 'report too large'));
        port
          .record({
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('latin1'),
          })
          .then(
            () => callback(null, 'report recorded'),
            () => callback(smtpError(451, '4.3.0', 'could not record the report, try again later')),
          );
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  return {
    listen: (listenPort, host) => listenSmtp(server, listenPort, host),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};
