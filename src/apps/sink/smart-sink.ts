import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { smtpError } from '../../adapters/smtp-in/smtp-error.js';
import {
  type FixedServerOptions,
  installSmtpServerFixes,
} from '../../adapters/smtp-in/smtp-server-fixes.js';
import { localPartOf } from '../../domain/address/address.js';

export interface SinkTransaction {
  readonly at: string;
  /** The SMTP session: transactions that share it came over one connection. */
  readonly session: string;
  readonly peer: string;
  readonly helo: string | null;
  readonly tls: boolean;
  readonly from: string;
  readonly to: readonly string[];
  readonly size: number;
  readonly sha256: string;
  readonly reply: string;
  readonly file?: string;
}

export interface SmartSinkOptions {
  readonly tls?: { readonly key: Buffer | string; readonly cert: Buffer | string };
  /** Keep each accepted message's bytes here, named after the transaction. */
  readonly saveDir?: string;
  readonly onTransaction?: (t: SinkTransaction) => void;
  /**
   * Recipients one transaction takes; past it, RCPT gets this reply (452 4.5.3 as RFC 5321
   * has it, or an RFC 821 server's 552).
   */
  readonly maxRecipients?: { readonly count: number; readonly reply: '452' | '552' };
  /** Offer SMTPUTF8 (smtp-server does by default); false plays a server that does not. */
  readonly smtpUtf8?: boolean;
  /** Answers the final dot this much later, as a receiver busy scanning the message does. */
  readonly answerDelayMs?: number;
}

const BEHAVIOURS = [
  'tempfail',
  'permfail',
  'full',
  'greylist',
  'ratelimit',
  'blocked',
  'disconnect',
] as const;
type Behaviour = (typeof BEHAVIOURS)[number] | 'accept';

const behaviourOf = (address: string): Behaviour => {
  const local = localPartOf(address).toLowerCase();
  return BEHAVIOURS.find((b) => local.startsWith(b)) ?? 'accept';
};

/**
 * An SMTP server for tests and staging that answers by recipient local-part, like
 * KumoMTA's test sink: tempfail… 451 4.3.0, permfail… 550 5.1.1, full… 552 5.2.2,
 * greylist… 450 4.2.0 once then 250, ratelimit… 421 4.7.0 (an ISP's rate limit),
 * blocked… 550 5.7.1 (a policy block on the sender), disconnect… drops the connection in
 * DATA, else 250.
 */
export const createSmartSink = (options: SmartSinkOptions = {}) => {
  installSmtpServerFixes();
  const greylisted = new Set<string>();
  let counter = 0;
  // Connections open now and the most seen at once: what a sender's concurrency limit caps.
  let open = 0;
  let peak = 0;
  // The same per sending address: what one egress source's limit caps.
  const openFrom = new Map<string, number>();
  const peakFrom = new Map<string, number>();
  if (options.saveDir) mkdirSync(options.saveDir, { recursive: true });

  const server: SMTPServer = new SMTPServer({
    name: 'mailtrail-sink',
    banner: 'mailtrail smart sink',
    authOptional: true,
    // Without a certificate the sink plays a site with no TLS at all: stock smtp-server
    // would still take a STARTTLS it does not advertise (with its own certificate).
    disabledCommands: options.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    hideSMTPUTF8: options.smtpUtf8 === false,
    greetingDelayMs: 0,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { hideSTARTTLS: true }),
    size: 50 * 1024 * 1024,
    logger: false,
    onConnect: (session, callback) => {
      open++;
      peak = Math.max(peak, open);
      const mine = (openFrom.get(session.remoteAddress) ?? 0) + 1;
      openFrom.set(session.remoteAddress, mine);
      peakFrom.set(session.remoteAddress, Math.max(peakFrom.get(session.remoteAddress) ?? 0, mine));
      callback();
    },
    onClose: (session) => {
      open--;
      openFrom.set(session.remoteAddress, (openFrom.get(session.remoteAddress) ?? 1) - 1);
    },
    onRcptTo: (address: SMTPServerAddress, session: SMTPServerSession, callback) => {
      const rcpt = address.address;
      const limit = options.maxRecipients;
      if (limit && session.envelope.rcptTo.length >= limit.count)
        return callback(
          limit.reply === '452'
            ? smtpError(452, '4.5.3', 'Too many recipients')
            : smtpError(552, '5.5.3', 'Error: too many recipients'),
        );
      switch (behaviourOf(rcpt)) {
        case 'tempfail':
          return callback(smtpError(451, '4.3.0', `<${rcpt}>: temporary failure, try again`));
        case 'permfail':
          return callback(smtpError(550, '5.1.1', `<${rcpt}>: no such user`));
        case 'full':
          return callback(smtpError(552, '5.2.2', `<${rcpt}>: mailbox full`));
        case 'ratelimit':
          return callback(
            smtpError(421, '4.7.0', `<${rcpt}>: too many messages from your IP, slow down`),
          );
        case 'blocked':
          return callback(
            smtpError(550, '5.7.1', `<${rcpt}>: service unavailable, client host blocked`),
          );
        case 'greylist': {
          const key = `${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''} ${rcpt}`;
          if (!greylisted.has(key)) {
            greylisted.add(key);
            return callback(smtpError(450, '4.2.0', `<${rcpt}>: greylisted, come back later`));
          }
          return callback();
        }
        default:
          return callback();
      }
    },
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      const dropper = recipients.some((r) => behaviourOf(r) === 'disconnect');
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (dropper) {
          // Vanish mid-DATA, as a crashing or overloaded receiver does.
          for (const connection of server.connections as Set<{
            session: SMTPServerSession;
            _socket: { destroy(): void };
          }>)
            if (connection.session.id === session.id) connection._socket.destroy();
        }
      });
      stream.on('error', () => {});
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const id = `${Date.now()}-${++counter}`;
        const reply = `250 2.0.0 Ok: queued as ${id}`;
        let file: string | undefined;
        if (options.saveDir) {
          file = join(options.saveDir, `${id}.eml`);
          writeFileSync(file, body);
        }
        options.onTransaction?.({
          at: new Date().toISOString(),
          session: session.id,
          peer: session.remoteAddress,
          helo: session.hostNameAppearsAs || null,
          tls: Boolean(session.secure),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: recipients,
          size: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          reply,
          ...(file ? { file } : {}),
        });
        const answer = () => callback(null, `2.0.0 Ok: queued as ${id}`);
        if (options.answerDelayMs) setTimeout(answer, options.answerDelayMs);
        else answer();
      });
    },
  } as FixedServerOptions);
  server.on('error', () => {});

  return {
    /** The most connections open at once, in all or from one sending address. */
    peakConnections: (from?: string): number =>
      from === undefined ? peak : (peakFrom.get(from) ?? 0),
    listen: (port: number, host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    close: (): Promise<void> => new Promise((resolve) => server.close(() => resolve())),
  };
};
