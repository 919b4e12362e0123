import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';

/**
 * Submits over SMTP through a pool of connections (smtp-source cannot set headers or vary
 * recipients' domains): `send(count, messageOf)` keeps `connections` transactions going.
 */
export const createSmtpInjector = (port: number, connections = 20) => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    pool: true,
    maxConnections: connections,
    maxMessages: Number.POSITIVE_INFINITY,
  });
  return {
    /** Submits `count` messages, `connections` at a time; `onSent` after each 250. */
    send: async (count: number, messageOf: (i: number) => Mail.Options, onSent?: () => void) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          await transport.sendMail(messageOf(next++));
          onSent?.();
        }
      };
      await Promise.all(Array.from({ length: connections }, worker));
    },
    /** One message, without waiting for its reply. */
    sendOne: (message: Mail.Options): void => void transport.sendMail(message).catch(() => {}),
    close: () => transport.close(),
  };
};
