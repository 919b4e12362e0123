import { createServer, type Socket } from 'node:net';

export interface RawMx {
  readonly port: number;
  /** Every command line each session sent, as received (UTF-8), in order. */
  readonly commands: string[];
  close(): Promise<void>;
}

/**
 * A receiving MX that takes everything and keeps the command lines exactly as they came:
 * smtp-server hands addresses over decoded (an A-label back in Unicode), which hides what
 * the relay put on the wire. It offers only the EHLO extensions it is given.
 */
export const startRawMx = async (host: string, extensions: readonly string[]): Promise<RawMx> => {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket.on('close', () => sockets.delete(socket)).on('error', () => {}));
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
            socket.write('250 2.0.0 Ok: queued\r\n');
          }
          continue;
        }
        commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          const lines = ['mx.raw.test', ...extensions];
          socket.write(
            lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''),
          );
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
        else socket.write('250 2.0.0 Ok\r\n');
      }
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, host, () => resolve((server.address() as { port: number }).port)),
  );
  return {
    port,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
