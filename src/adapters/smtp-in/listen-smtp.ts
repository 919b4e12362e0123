import type { SMTPServer } from 'smtp-server';

/** Starts an smtp-server listening; resolves with the port it got (for port 0). */
export const listenSmtp = (
  server: SMTPServer,
  port: number,
  host: string,
): Promise<{ port: number }> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.server.once('error', onError);
    server.listen(port, host, () => {
      server.server.off('error', onError);
      const address = server.server.address();
      resolve({ port: typeof address === 'object' && address ? address.port : port });
    });
  });
