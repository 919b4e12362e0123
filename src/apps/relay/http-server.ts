import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiRouteDeps } from '../../adapters/http-api/api-routes.js';
import { mailgunRoutes } from '../../adapters/http-api/mailgun/mailgun-routes.js';
import { postmarkRoutes } from '../../adapters/http-api/postmark/postmark-routes.js';
import { sendgridRoutes } from '../../adapters/http-api/sendgrid/sendgrid-routes.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { countByStatus } from '../../projections/delivery-queue/queries.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { lookUpUnsubscribe, recordUnsubscribe } from '../unsubscribe/record-unsubscribe.js';
import type { WindowRow } from './throttle-windows.js';

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The relay's HTTP server: health and queue status for operators and load balancers, the
 * Mailgun, SendGrid and Postmark sending APIs, and the RFC 8058 unsubscribe endpoint. Each
 * group is its own plugin, with its own body parsers and its own error shapes.
 */
export const createHttpServer = (
  readDb: ReadModelDb,
  live: { readonly throttleWindows: () => Promise<readonly WindowRow[]> },
  unsubscribe: { readonly store: EventStore; readonly key: Uint8Array },
  api: Omit<ApiRouteDeps, 'log'>,
) => {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/status', async () => ({ recipients: countByStatus(readDb) }));
  app.get('/shaping/status', async () => ({ windows: await live.throttleWindows() }));
  app.register(async (scope) => mailgunRoutes(scope, { ...api, log: scope.log }));
  app.register(async (scope) => sendgridRoutes(scope, { ...api, log: scope.log }));
  app.register(async (scope) => postmarkRoutes(scope, { ...api, log: scope.log }));
  app.register(async (scope) => unsubscribeRoutes(scope, unsubscribe));
  return app;
};

const unsubscribeRoutes = async (
  app: FastifyInstance,
  unsubscribe: { readonly store: EventStore; readonly key: Uint8Array },
) => {
  // One-click POSTs come form-encoded or multipart (RFC 8058 §3.2); the body says nothing
  // the token does not, so it is read and set aside.
  app.addContentTypeParser(
    ['application/x-www-form-urlencoded', 'multipart/form-data'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );
  const deps = { ...unsubscribe, now: Date.now };
  // A GET only shows the question: link scanners and previews must not unsubscribe anyone.
  app.get<{ Params: { token: string } }>('/unsubscribe/:token', async (request, reply) => {
    const found = await lookUpUnsubscribe(deps, request.params.token);
    reply.type('text/html; charset=utf-8');
    if (!found.ok) return reply.code(404).send('<p>This unsubscribe link is not valid.</p>');
    return `<!doctype html><title>Unsubscribe</title><form method="post"><p>Stop mail from ${escapeHtml(found.sender ?? 'this sender')} to ${escapeHtml(found.recipient)}?</p><button>Unsubscribe</button></form>`;
  });
  // Never a redirect: mail providers post here without following one (RFC 8058 §3.2).
  app.post<{ Params: { token: string } }>('/unsubscribe/:token', async (request, reply) => {
    const done = await recordUnsubscribe(deps, request.params.token, 'one-click');
    reply.type('text/plain; charset=utf-8');
    return done
      ? 'You are unsubscribed.\n'
      : reply.code(404).send('This unsubscribe link is not valid.\n');
  });
};
