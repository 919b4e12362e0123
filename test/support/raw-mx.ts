import { createServer, type Socket } from 'node:net';

export interface RawMx {
  readonly port: number;
  /** Every command line sent to it, as received (UTF-8), in order. */
  readonly commands: string[];
  /** The messages it took (all in clear: it speaks no TLS). */
  readonly messages: () => number;
  close(): Promise<void>;
}

export interface RawMxOptions {
  /** The port to listen on (several hosts share the relay's one delivery port); 0: any. */
  readonly port?: number;
  /** Greets with this instead of 220, and hangs up (a 421 from a busy server). */
  readonly refusal?: string;
  /** Offers STARTTLS, agrees to it, then answers the handshake with plain text. */
  readonly brokenTls?: boolean;
  /** Takes the connection and hangs up at once, without a word. */
  readonly hangUp?: boolean;
  /** Greets, then answers EHLO and HELO with this and hangs up (a server shutting down). */
  readonly ehloRefusal?: string;
}

/**
 * A receiving MX that takes everything and keeps the command lines exactly as they came:
 * smtp-server hands addresses over decoded (an A-label back in Unicode), which hides what
 * the relay put on the wire. It offers only the EHLO extensions it is given, and can play
 * the misbehaving servers smtp-server will not: a refused greeting, a TLS that never works.
 */
export const startRawMx = async (
  host: string,
  extensions: readonly string[],
  options: RawMxOptions = {},
): Promise<RawMx> => {
  const commands: string[] = [];
  let messages = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket.on('close', () => sockets.delete(socket)).on('error', () => {}));
    if (options.refusal || options.hangUp) {
      socket.end(options.refusal ? `${options.refusal}\r\n` : '');
      return;
    }
    let buffer = '';
    let inData = false;
    socket.write('220 mx.raw.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages++;
            socket.write('250 2.0.0 Ok: queued\r\n');
          }
          continue;
        }
        commands.push(line);
        const verb = line.slice(0, 8).toUpperCase();
        if (options.ehloRefusal && (verb.startsWith('EHLO') || verb.startsWith('HELO'))) {
          socket.end(`${options.ehloRefusal}\r\n`);
          return;
        }
        if (verb.startsWith('EHLO')) {
          const lines = ['mx.raw.test', ...extensions, ...(options.brokenTls ? ['STARTTLS'] : [])];
          socket.write(
            lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''),
          );
        } else if (verb === 'STARTTLS' && options.brokenTls) {
          socket.end('220 2.0.0 Ready to start TLS\r\nthis is no TLS handshake\r\n');
          return;
        } else if (verb.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb.startsWith('QUIT')) socket.end('221 2.0.0 bye\r\n');
        else socket.write('250 2.0.0 Ok\r\n');
      }
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(options.port ?? 0, host, () =>
      resolve((server.address() as { port: number }).port),
    ),
  );
  return {
    port,
    commands,
    messages: () => messages,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
