import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ApiRouteDeps } from '../../adapters/http-api/api-routes.js';
import { mailgunRoutes } from '../../adapters/http-api/mailgun/mailgun-routes.js';
import { postmarkRoutes } from '../../adapters/http-api/postmark/postmark-routes.js';
import { sendgridRoutes } from '../../adapters/http-api/sendgrid/sendgrid-routes.js';
import type { Counters } from '../../adapters/metrics/counters.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { countByStatus } from '../../projections/delivery-queue/queries.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { type StreamRouteDeps, streamRoutes } from '../data-streams/stream-routes.js';
import { type EngagementDeps, recordClick, recordOpen } from '../tracking/record-engagement.js';
import { lookUpUnsubscribe, recordUnsubscribe } from '../unsubscribe/record-unsubscribe.js';
import { type WebhookRouteDeps, webhookRoutes } from '../webhooks/webhook-routes.js';
import type { WindowRow } from './throttle-windows.js';

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The relay's HTTP server: health and queue status for operators and load balancers, the
 * Mailgun, SendGrid and Postmark sending APIs, open and click tracking, the RFC 8058
 * unsubscribe endpoint, the event and accounting streams for data teams, and the webhook
 * admin API. Each group is
 * its own plugin, with its own body parsers and its own error shapes.
 */
export interface HttpServerDeps {
  /** Peers (CIDR) whose X-Forwarded-For is believed; the others are the client themselves. */
  readonly trustedProxies: readonly string[];
  /** The request's header section, in bytes: @sendgrid/mail sends the mail's headers there too. */
  readonly maxHeaderBytes: number;
  readonly readDb: ReadModelDb;
  /** The counters /metrics shows, in the Prometheus text format. */
  readonly metrics: Pick<Counters, 'render'>;
  readonly live: { readonly throttleWindows: () => Promise<readonly WindowRow[]> };
  readonly unsubscribe: { readonly store: EventStore; readonly key: Uint8Array };
  readonly api: Omit<ApiRouteDeps, 'log'>;
  readonly tracking: EngagementDeps;
  readonly streams: StreamRouteDeps;
  readonly webhooks: WebhookRouteDeps;
}

export const createHttpServer = (deps: HttpServerDeps) => {
  const app = Fastify({
    logger: false,
    // A click token carries its URL: fastify's default of 100 characters is a 35-byte URL.
    routerOptions: { maxParamLength: 16 * 1024 },
    http: { maxHeaderSize: deps.maxHeaderBytes },
    trustProxy: deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(deps.metrics.render()),
  );
  app.get('/status', async () => ({ recipients: countByStatus(deps.readDb) }));
  app.get('/shaping/status', async () => ({ windows: await deps.live.throttleWindows() }));
  app.register(async (scope) => mailgunRoutes(scope, { ...deps.api, log: scope.log }));
  app.register(async (scope) => sendgridRoutes(scope, { ...deps.api, log: scope.log }));
  app.register(async (scope) => postmarkRoutes(scope, { ...deps.api, log: scope.log }));
  app.register(async (scope) => unsubscribeRoutes(scope, deps.unsubscribe));
  app.register(async (scope) => trackingRoutes(scope, deps.tracking));
  app.register(async (scope) => streamRoutes(scope, deps.streams));
  app.register(async (scope) => webhookRoutes(scope, deps.webhooks));
  return app;
};

// The smallest transparent GIF: what every tracking pixel serves.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Open pixels and click redirects (tracking.baseUrl points here, at /t). */
const trackingRoutes = async (app: FastifyInstance, deps: EngagementDeps) => {
  const requestOf = (request: FastifyRequest) => ({
    userAgent: request.headers['user-agent'] ?? null,
    ip: request.ip,
    method: request.method,
  });
  app.get<{ Params: { token: string } }>('/t/o/:token', async (request, reply) => {
    await recordOpen(deps, request.params.token, requestOf(request));
    // A pixel whatever the token: a broken image tells a reader nothing useful.
    return reply
      .type('image/gif')
      .header('cache-control', 'no-store, no-cache, must-revalidate, max-age=0')
      .send(PIXEL);
  });
  app.get<{ Params: { token: string } }>('/t/c/:token', async (request, reply) => {
    const url = await recordClick(deps, request.params.token, requestOf(request));
    if (url === null)
      return reply.code(404).type('text/plain; charset=utf-8').send('This link is not valid.\n');
    return reply.header('cache-control', 'no-store').redirect(url, 302);
  });
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
