import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly at: number;
  /** What the receiver answered. */
  readonly status: number;
}

/** How the receiver answers: a status, or never (the request hangs until the client gives up). */
export type ReceiverAnswer = number | 'hang';

export interface WebhookReceiver {
  readonly url: (path?: string) => string;
  /** Every request, answered 2xx or not, in arrival order. */
  readonly requests: ReceivedWebhook[];
  /** Only those answered 2xx: what the application has actually taken. */
  readonly accepted: () => ReceivedWebhook[];
  /** Sets the answer for a path (or for all paths without one of their own). */
  answer(status: ReceiverAnswer, path?: string): void;
  close(): Promise<void>;
}

/** A real HTTP server on a loopback address playing an application's webhook receiver. */
export const startWebhookReceiver = async (host: string): Promise<WebhookReceiver> => {
  const requests: ReceivedWebhook[] = [];
  const answers = new Map<string, ReceiverAnswer>();
  let fallback: ReceiverAnswer = 200;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const answer = answers.get(path) ?? fallback;
      requests.push({
        path,
        headers: request.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
        status: answer === 'hang' ? 0 : answer,
      });
      if (answer === 'hang') return;
      response
        .writeHead(answer, { 'content-type': 'text/plain' })
        .end(answer < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = '/hook') => `http://${host}:${port}${path}`,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    answer: (status, path) => {
      if (path === undefined) fallback = status;
      else answers.set(path, status);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
