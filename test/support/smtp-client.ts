import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import nodemailer from 'nodemailer';

/**
 * A byte-exact SMTP client: writes exactly what it is given and reads whole replies.
 * Libraries normalise what they send, which is what the smuggling and bad-input tests
 * must not have.
 */
export interface RawSmtp {
  /** Sends bytes as they are, then reads one full reply (multi-line aware). */
  command(bytes: string | Buffer): Promise<string>;
  write(bytes: string | Buffer): void;
  read(): Promise<string>;
  startTls(options?: {
    maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
    ciphers?: string;
  }): Promise<TLSSocket>;
  closed(): Promise<void>;
  end(): void;
  readonly socket: () => Socket;
}

const COMPLETE = /(?:^|\r\n)\d{3} [^\r\n]*\r\n$/;

export const rawSmtp = async (
  port: number,
  host = '127.0.0.1',
  localAddress?: string,
): Promise<RawSmtp> => {
  let socket: Socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
  let buffer = '';
  let waiter: (() => void) | undefined;
  let isClosed = false;
  const closedWaiters: Array<() => void> = [];
  const attach = (s: Socket) => {
    s.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      waiter?.();
    });
    s.on('close', () => {
      isClosed = true;
      waiter?.();
      for (const c of closedWaiters.splice(0)) c();
    });
    s.on('error', () => {});
  };
  attach(socket);
  const read = async (): Promise<string> => {
    for (;;) {
      if (COMPLETE.test(buffer)) {
        const reply = buffer;
        buffer = '';
        return reply.replace(/\r\n$/, '');
      }
      if (isClosed) {
        const rest = buffer;
        buffer = '';
        return rest === '' ? '(closed)' : rest.replace(/\r\n$/, '');
      }
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
      waiter = undefined;
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const client: RawSmtp = {
    write: (bytes) => void socket.write(bytes),
    command: async (bytes) => {
      socket.write(bytes);
      return read();
    },
    read,
    startTls: (options = {}) =>
      new Promise((resolve, reject) => {
        const raw = socket;
        raw.removeAllListeners('data');
        raw.removeAllListeners('close');
        const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, ...options }, () =>
          resolve(secure),
        );
        secure.once('error', reject);
        socket = secure;
        attach(secure);
      }),
    closed: () =>
      isClosed ? Promise.resolve() : new Promise((resolve) => closedWaiters.push(resolve)),
    end: () => socket.end(),
    socket: () => socket,
  };
  return client;
};

/**
 * Greeted, STARTTLS, EHLO again, then AUTH PLAIN: what a submitting application does,
 * byte for byte. The AUTH reply is returned, not asserted, for the tests of failures.
 */
export const authenticatedSmtp = async (
  port: number,
  username: string,
  password: string,
  localAddress?: string,
): Promise<{ readonly client: RawSmtp; readonly auth: string }> => {
  const client = await rawSmtp(port, '127.0.0.1', localAddress);
  const greeting = await client.read();
  if (!greeting.startsWith('220 ')) return { client, auth: greeting };
  await client.command('EHLO client.test\r\n');
  await client.command('STARTTLS\r\n');
  await client.startTls();
  await client.command('EHLO client.test\r\n');
  const token = Buffer.from(`\0${username}\0${password}`).toString('base64');
  return { client, auth: await client.command(`AUTH PLAIN ${token}\r\n`) };
};

/** nodemailer as an application configures it: STARTTLS required, AUTH, our test certificate. */
export const submissionTransport = (port: number, auth: { user: string; pass: string }) =>
  nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth,
    tls: { rejectUnauthorized: false },
  });
